package ha

import (
	"fmt"
	"time"

	"github.com/hafw/hafw/internal/humantime"
)

// Event descriptions of application monitoring (not in the seed, whose
// health monitor "monitors the applications" without naming its events).
const (
	MsgAppFailed         = "Application failure"
	MsgAppFailover       = "Failover invoked; application failure on the active node"
	MsgAppFailback       = "Failback invoked; application failure on the secondary"
	MsgAppKept           = "Application failure; service kept on this node"
	MsgAppHoldDownEnded  = "Application hold-down ended"
	MsgAppCleared        = "Application state cleared"
	appDegradedTakeover  = "this node's application failed recently (%s); not taking over onto a broken application (hold-down until %s)"
	appDegradedPeerForce = "the %s's application failed recently and it is held down: a switch would hand the service to a broken application; use force to override"
)

// degraded reports whether this node's application failed within the
// hold-down.
func (s *stepper) degraded() bool { return s.n.AppFailure != "" }

// appFailed records the failure and, on the node that serves, hands the
// service to the peer when the peer can take it: reachable, not degraded
// itself, and holding a synchronized copy. Otherwise the service stays
// here (a broken application on one node is better than none) and the
// supervisor keeps restarting it.
func (s *stepper) appFailed(e AppFailed) {
	s.n.AppFailure, s.n.AppFailedAt = e.Reason, s.now
	if !s.n.HoldsVIP {
		s.event(MsgAppFailed, e.Reason+"; this standby is degraded and will not take over")
		s.do(SendState{})
		return
	}
	p := s.n.Peer
	var keep string
	switch {
	case !p.Up:
		keep = "the peer is unreachable"
	case p.Degraded:
		keep = "the peer's application failed too (hold-down)"
	case p.Ineligible:
		keep = peerIneligible
	case !s.n.Sync.PeerSynced:
		keep = "the peer is not synchronized"
	case s.role() == Primary && s.n.State == PrimaryActive && p.State == SecondaryActive:
		s.event(MsgAppFailed, e.Reason)
		s.release()
		s.set(FailoverInvoked)
		s.n.LastFailover = s.now
		s.event(MsgAppFailover, e.Reason)
		s.do(SendState{})
		return
	case s.role() == Secondary && s.n.State == FailoverActive && p.State == Terminated:
		s.event(MsgAppFailed, e.Reason)
		s.set(FailbackActive)
		s.event(MsgAppFailback, e.Reason)
		s.do(SendState{})
		return
	default:
		keep = fmt.Sprintf("no hand-over from %s with the peer in %s", s.n.State, p.State)
	}
	s.notice(MsgAppKept, e.Reason+"; "+keep)
	s.do(SendState{})
}

// appCleared is the operator's reset.
func (s *stepper) appCleared() {
	if !s.degraded() {
		return
	}
	s.n.AppFailure, s.n.AppFailedAt = "", time.Time{}
	s.event(MsgAppCleared, "by the operator")
	s.do(SendState{})
}

// appHoldDown ends the degraded mark once the hold-down has passed.
func (s *stepper) appHoldDown() {
	if s.degraded() && s.now.Sub(s.n.AppFailedAt) >= s.n.Config.AppHoldDown {
		s.n.AppFailure, s.n.AppFailedAt = "", time.Time{}
		s.event(MsgAppHoldDownEnded, "this node may take over again")
		s.do(SendState{})
	}
}

// refuseDegradedTakeover logs (once) why a degraded node does not take
// over automatically and reports whether it refused.
func (s *stepper) refuseDegradedTakeover() bool {
	if !s.degraded() {
		return false
	}
	s.notice(MsgTakeoverRefused, fmt.Sprintf(appDegradedTakeover, s.n.AppFailure,
		humantime.Time(s.n.AppFailedAt.Add(s.n.Config.AppHoldDown))))
	return true
}

// degradedTarget reports whether the node an operator command (Switchover
// or Failback) would hand the service to is degraded.
func (s *stepper) degradedTarget(cmd string) bool {
	if cmd == "Switchover" {
		if s.role() == Primary {
			return s.n.Peer.Degraded
		}
		return s.degraded()
	}
	if s.role() == Primary {
		return s.degraded()
	}
	return s.n.Peer.Degraded
}
