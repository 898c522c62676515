package notify

import (
	"net/netip"
	"strings"
	"time"

	"github.com/hafw/hafw/hmd/ha"
)

// Classifier turns what one appliance's HA state machine did (state
// changes and events-log records) into operator events. It is pure and
// owned by one goroutine (hmd's event loop): it remembers only which peers
// are in an unresolved split brain.
type Classifier struct {
	// Node is this appliance's host name, the events' Node.
	Node  string
	split map[string]bool
}

// Transition classifies a state change of the relationship with peer.
// cause names what the state machine reacted to (the ha event's type).
func (c *Classifier) Transition(now time.Time, peer string, from, to ha.State, cause string) []Event {
	ev := func(t Type, sev Severity, text string) Event {
		return Event{Time: now, Type: t, Severity: sev, Node: c.Node, Peer: peer, OldState: string(from), NewState: string(to), Text: text, Reason: cause}
	}
	sev := Info
	switch to {
	case ha.FailoverInvoked, ha.FailoverActive, ha.Terminated, ha.GracefulShutdown:
		sev = Warning
	}
	out := []Event{ev(TypeStateChange, sev, "HA state changed from "+orNone(from)+" to "+string(to))}
	switch {
	case to == ha.FailoverInvoked:
		out = append(out, ev(TypeFailoverStarted, Warning, "Failover started"))
	case to == ha.FailoverActive:
		out = append(out, ev(TypeFailoverCompleted, Critical, "Failover completed: the secondary serves"))
	case to == ha.FailbackActive:
		out = append(out, ev(TypeFailbackStarted, Info, "Failback started"))
	case (to == ha.PrimaryActive || to == ha.SecondaryActive) &&
		(from == ha.FailbackActive || from == ha.FailbackComplete || from == ha.SecondaryAlone):
		out = append(out, ev(TypeFailbackCompleted, Info, "Failback completed: the primary serves"))
	}
	return out
}

func orNone(s ha.State) string {
	if s == "" {
		return "none"
	}
	return string(s)
}

// Record classifies a row the state machine appended to the events log;
// rows that are not operator events give nothing.
//
// A split brain is "detected" at its first record and "repaired" when the
// state machine has decided which side keeps the virtual IP (the newer
// epoch): its record then says who keeps or releases it.
func (c *Classifier) Record(peer string, r ha.Record) []Event {
	ev := func(t Type, sev Severity) Event {
		return Event{Time: r.Time, Type: t, Severity: sev, Node: c.Node, Peer: peer, Text: r.Description, Reason: r.Remarks}
	}
	switch r.Description {
	case ha.MsgSplitBrain:
		if c.split == nil {
			c.split = map[string]bool{}
		}
		var out []Event
		if !c.split[peer] {
			c.split[peer] = true
			out = append(out, ev(TypeSplitBrainDetected, Critical))
		}
		if strings.Contains(r.Remarks, "releas") || strings.Contains(r.Remarks, "keep") {
			delete(c.split, peer)
			out = append(out, ev(TypeSplitBrainRepaired, Warning))
		}
		return out
	case ha.MsgHeartbeatsDown:
		return []Event{ev(TypeHeartbeatDown, Critical)}
	case ha.MsgHeartbeatsUp:
		return []Event{ev(TypeHeartbeatUp, Info)}
	case ha.MsgInstanceStopped, ha.MsgAppFailed, ha.MsgAppKept:
		// One notification per failure: the hand-over that may follow
		// MsgAppFailed is told by the state change and failover events.
		return []Event{ev(TypeApplicationFailure, Critical)}
	case ha.MsgActive:
		if r.Remarks == ha.RemarkSynchronized {
			return []Event{ev(TypeSyncComplete, Info)}
		}
	}
	return nil
}

// HA feeds a Service from hmd's event loop (it is a daemon.Observer): it
// classifies on the loop goroutine and publishes without blocking.
type HA struct {
	Classifier Classifier
	Service    *Service
}

// StateChanged implements daemon.Observer.
func (h *HA) StateChanged(peer netip.Addr, from, to ha.State, cause string) {
	h.Service.Publish(h.Classifier.Transition(time.Now(), peer.String(), from, to, cause)...)
}

// Recorded implements daemon.Observer.
func (h *HA) Recorded(peer netip.Addr, r ha.Record) {
	h.Service.Publish(h.Classifier.Record(peer.String(), r)...)
}
