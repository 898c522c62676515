package ha

import (
	"fmt"
	"time"

	"github.com/hafw/hafw/internal/humantime"
)

// Event descriptions in the seed's wording (and ours where it has none).
const (
	MsgConfigCreated       = "Configuration successfully created"
	MsgHeartbeatsUp        = "Heartbeats have been setup successfully"
	MsgSyncInProgress      = "Primary and secondary server synchronization in progress"
	MsgActive              = "Active"
	MsgFailoverShutdown    = "Failover invoked; shutting down primary instance"
	MsgFailoverReconfigure = "Failover has been invoked. Reconfiguring instance database"
	MsgFailoverStarting    = "Failover invoked; starting application instance"
	MsgFailoverActive      = "Instance is in failover active state"
	MsgFailbackStarting    = "Failback in progress; starting primary database instance"
	MsgFailbackInvoked     = "Failback has been invoked"
	MsgFailbackDone        = "Failback complete; primary instance synchronized"
	MsgFailbackAborted     = "Failback aborted"
	MsgHeartbeatsDown      = "Heartbeats lost on every path"
	MsgSplitBrain          = "Split brain detected: both servers hold the virtual IP"
	MsgGracefulShutdown    = "Graceful shutdown"
	MsgPrimaryTerminated   = "Secondary is serving; primary instance terminated"
	MsgTakeoverRefused     = "Takeover refused"
	MsgTakeoverDeferred    = "Takeover deferred"
	MsgInstanceStopped     = "Application instance stopped while active"
)

// RemarkSynchronized is MsgActive's remark when the first sync of a pair
// completed (notifications tell it apart from other "Active" rows).
const RemarkSynchronized = "primary and secondary synchronized"

// initialSyncRefusal is why a switchover before the first complete sync is
// refused (force does not override it: the secondary cannot serve).
const initialSyncRefusal = "%s: the secondary cannot serve yet; wait until the status shows Active (synchronized), then switch over"

// New is the machine of a relationship the administrator has just created
// ("Configuration successfully created"): the primary keeps serving the VIP
// it already served, the secondary stands by.
func New(cfg Config, now time.Time) (Node, []Action) {
	s := &stepper{n: Node{Config: cfg.WithDefaults()}, now: now}
	s.event(MsgConfigCreated, "peer "+cfg.Peer)
	if s.n.Config.Role == Primary {
		s.set(PrimaryActive)
		s.n.HoldsVIP = true
		s.do(AddVIP{Epoch: 0}, StartInstance{})
	} else {
		s.set(SecondaryActive)
		s.do(RemoveVIP{}, StopInstance{})
	}
	return s.n, s.acts
}

// Step is the state machine of one relationship: given the node, one event
// and the current time, it returns the next node and what must be done.
// It does not modify its input. For a secondary backing several primaries
// use StepGroup, which also enforces "one failover at a time".
func Step(n Node, ev Event, now time.Time) (Node, []Action) {
	return step(n, ev, now, "")
}

// stepper accumulates one step's result. busy names another relationship
// this node already serves (N:1), which forbids a claim here.
type stepper struct {
	n    Node
	now  time.Time
	busy string
	acts []Action
}

func step(n Node, ev Event, now time.Time, busy string) (Node, []Action) {
	n.Config = n.Config.WithDefaults()
	s := &stepper{n: n, now: now, busy: busy}
	switch e := ev.(type) {
	case Started:
		s.started()
	case Heartbeat:
		s.heartbeat(e)
	case PeerDown:
		s.peerDown()
	case PeerSuspect:
		s.suspect()
	case Tick:
		s.tick()
	case Switchover:
		s.switchover(e)
	case Failback:
		s.failback(e)
	case GatewayProbe:
		s.gatewayProbe(e)
	case WitnessVote:
		s.witnessVote(e)
	case VIPProbe:
		s.vipProbe(e)
	case PeerClaim:
		s.peerClaim(e)
	case ShutdownRequested:
		s.shutdown()
	case ReplicationProgress:
		s.n.Sync.Percent = max(0, min(100, e.Percent))
	case ReplicationSynced:
		s.synced()
	case ReplicaUsable:
		s.replicaUsable(e)
	case InstanceStarted:
		s.instanceStarted()
	case AppFailed:
		s.appFailed(e)
	case AppCleared:
		s.appCleared()
	case Eligibility:
		s.eligibility(e)
	case InstanceStopped:
		s.n.InstanceRunning = false
		if s.n.HoldsVIP {
			s.event(MsgInstanceStopped, "")
		}
	}
	return s.n, s.acts
}

func (s *stepper) do(a ...Action) { s.acts = append(s.acts, a...) }

func (s *stepper) role() Role { return s.n.Config.Role }

func (s *stepper) event(desc, remarks string) {
	s.do(AppendEvent{Record{Description: desc, GeneratedBy: s.role().GeneratedBy(), Time: s.now, Remarks: remarks}})
}

// notice logs a refusal or deferral once for as long as it lasts.
func (s *stepper) notice(desc, remarks string) {
	key := desc + ": " + remarks
	if s.n.Notice == key {
		return
	}
	s.n.Notice = key
	s.event(desc, remarks)
}

func (s *stepper) refuse(cmd, reason string) {
	s.do(Refused{Command: cmd, Reason: reason})
	s.event(cmd+" refused", reason)
}

// set enters state st (a no-op when already there).
func (s *stepper) set(st State) {
	if s.n.State == st {
		return
	}
	s.n.State = st
	s.n.Since = s.now
	s.n.Notice = ""
}

// release gives up the VIP and the instance and any pending claim.
func (s *stepper) release() {
	if s.n.HoldsVIP {
		s.do(RemoveVIP{})
	}
	if s.n.HoldsVIP || s.n.InstanceRunning {
		s.do(StopInstance{})
	}
	s.n.HoldsVIP = false
	s.n.Quiet = false
	s.n.ConflictSince = time.Time{}
	s.n.Claim = Claim{}
	s.n.Sync.Requested = false
	s.n.Sync.PeerSynced = false
}

func (s *stepper) started() {
	prior := s.n.State
	if prior == GracefulShutdown && s.n.LastShutdownState != "" {
		prior = s.n.LastShutdownState
	}
	s.n.LastShutdownState = prior
	// Reconcile: whatever the last run left behind, own nothing.
	s.do(RemoveVIP{}, StopInstance{})
	s.n.HoldsVIP = false
	s.n.Quiet = false
	s.n.ConflictSince = time.Time{}
	s.n.InstanceRunning = false
	s.n.Claim = Claim{}
	s.n.Sync.Requested = false
	s.n.Sync.PeerSynced = false
	s.n.Peer.Up = false
	s.n.Peer.HoldsVIP = false
	s.n.State = ""
	switch {
	case s.role() == Primary && (prior == Terminated || prior == FailoverInvoked || prior == FailbackActive || prior == FailbackComplete):
		// The secondary took over before we went down; it still serves
		// until a failback.
		s.set(Terminated)
	case s.role() == Secondary && (prior == SecondaryActive || prior == ""):
		s.set(SecondaryActive)
	default:
		s.set(StateInitializing)
	}
}

func (s *stepper) heartbeat(hb Heartbeat) {
	p := &s.n.Peer
	wasUp, peerHeld := p.Up, p.HoldsVIP
	p.Up, p.State, p.Epoch, p.HoldsVIP, p.HeardAt, p.Degraded, p.Ineligible = true, hb.State, hb.Epoch, hb.HoldsVIP, s.now, hb.Degraded, hb.Ineligible
	if hb.Graceful || hb.State == GracefulShutdown {
		if p.GracefulAt.IsZero() {
			p.GracefulAt = s.now
		}
	} else {
		p.GracefulAt = time.Time{}
	}
	keeps := s.n.HoldsVIP && !(p.HoldsVIP && s.peerClaimNewer())
	if keeps && (s.n.Quiet || peerHeld || !wasUp || p.HoldsVIP) {
		// Clients still pointing at the peer must move to us now: it
		// speaks again after we went quiet, it has just let the VIP go,
		// it holds it too and yields to our newer claim, or it was
		// unheard — during a cut it may have held the VIP and released
		// it before its first heartbeat here. The announcement comes
		// before the events-log rows below, each of which is a write to
		// disk the clients would otherwise wait for.
		s.announce()
	}
	if !wasUp {
		s.event(MsgHeartbeatsUp, peerIn(s.n.Config.Peer, hb.State))
	}
	s.n.ConflictSince = time.Time{} // heartbeats decide now
	if s.n.State == GracefulShutdown {
		return
	}
	// A claim made because the peer was silent is void now that it speaks;
	// any claim is void when the peer holds the VIP.
	if s.n.Claim.Active && (s.n.Claim.NeedVotes || p.HoldsVIP) {
		s.n.Claim = Claim{}
	}
	if s.n.HoldsVIP && p.HoldsVIP {
		s.splitBrain()
		return
	}
	s.react()
}

// announce has the VIP this node holds announced at once and refreshed
// from then on (AnnounceVIP).
func (s *stepper) announce() {
	s.n.Quiet = false
	s.do(AnnounceVIP{})
}

// quiet stops the periodic announcements of the VIP this node holds while
// its peer is silent, when the peer may take over on that silence: see
// QuietVIP. A peer that shut down gracefully, or a secondary with manual
// failover, will not claim, so announcing goes on.
func (s *stepper) quiet() {
	mayClaim := s.role() == Secondary || s.n.Config.FailoverType == Automatic
	if !s.n.HoldsVIP || s.n.Quiet || s.peerGraceful() || !mayClaim {
		return
	}
	s.n.Quiet = true
	s.do(QuietVIP{})
}

// peerGraceful reports whether the peer announced a graceful shutdown
// less than the graceful timeout ago.
func (s *stepper) peerGraceful() bool {
	p := s.n.Peer
	return !p.GracefulAt.IsZero() && s.now.Sub(p.GracefulAt) < s.n.Config.GracefulTimeout
}

// react applies the rules that depend on the peer's reported state. It runs
// on every heartbeat event and on every tick while the peer is up, because
// the transport reports a peer's state once, not on every heartbeat.
func (s *stepper) react() {
	if s.role() == Primary {
		s.primaryHeard()
	} else {
		s.secondaryHeard()
	}
	s.maybeSync()
	s.maybeAutoFailback()
}

// settled reports whether this node has been in its state for a whole
// failover wait: a peer state that contradicts ours is then a real answer,
// not a heartbeat that was already on its way when we changed.
func (s *stepper) settled() bool { return s.now.Sub(s.n.Since) >= s.n.Config.FailoverWait }

// peerClaimNewer reports whether the peer's claim of the VIP wins over
// ours when both hold it: the newer epoch, and the primary on a tie.
func (s *stepper) peerClaimNewer() bool {
	p := s.n.Peer
	return p.Epoch > s.n.Epoch || (p.Epoch == s.n.Epoch && s.role() == Secondary)
}

// splitBrain: both sides hold the VIP. The newer claim keeps it (and has
// already announced it: see heartbeat).
func (s *stepper) splitBrain() {
	p := s.n.Peer
	remarks := fmt.Sprintf("our epoch %d, peer epoch %d", s.n.Epoch, p.Epoch)
	if s.peerClaimNewer() {
		s.event(MsgSplitBrain, remarks+"; the peer's claim is newer: releasing the virtual IP and resynchronizing from the peer")
		s.release()
		if s.role() == Primary {
			s.set(Terminated)
			s.n.LastFailover = s.now
		} else {
			s.set(SecondaryActive)
		}
		s.do(SendState{})
		return
	}
	s.notice(MsgSplitBrain, remarks+"; our claim is newer: keeping the virtual IP, the peer releases it")
	s.do(SendState{})
}

func (s *stepper) primaryHeard() {
	p := s.n.Peer
	switch s.n.State {
	case PrimaryActive:
		if p.State == FailoverInvoked && !p.HoldsVIP {
			// The secondary asked for a switchover.
			s.release()
			s.set(FailoverInvoked)
			s.n.LastFailover = s.now
			s.event(MsgFailoverShutdown, "switchover requested by the secondary")
			s.do(SendState{})
		}
	case StateInitializing:
		switch {
		case p.HoldsVIP:
			s.set(Terminated)
			s.n.LastFailover = s.now
			s.event(MsgPrimaryTerminated, "the secondary took over while this primary was down; use failback to return")
		case p.State == FailoverInvoked:
			s.set(FailoverInvoked)
			s.do(SendState{})
		case p.State == SecondaryActive || p.State == StateInitializing || p.State == GracefulShutdown:
			s.want("primary restarted and the secondary does not serve", false)
		}
	case Terminated, FailoverInvoked:
		switch {
		case p.State == FailbackActive && !s.mayServe():
			// The secondary aborts the failback when this primary stays
			// TERMINATED.
			s.notice(MsgTakeoverRefused, "failback: "+s.roleNone())
		case p.State == FailbackActive:
			s.set(FailbackActive)
			s.event(MsgFailbackInvoked, "requested by the secondary")
			s.do(SendState{})
		case p.HoldsVIP && s.n.State == FailoverInvoked:
			s.set(Terminated)
			s.do(SendState{})
		case !p.HoldsVIP && (p.State == SecondaryActive || p.State == StateInitializing) && s.settled():
			// The secondary has not taken over within a whole wait
			// (refused, or N:1 busy): serve again.
			s.want("the secondary did not take over", false)
		}
	case FailbackActive:
		switch {
		case p.State == FailbackActive || p.State == SecondaryAlone:
			s.set(FailbackComplete)
			s.event(MsgFailbackStarting, "loading data from the secondary")
			s.do(SendState{})
		case p.State == FailoverActive && s.settled():
			s.set(Terminated)
			s.event(MsgFailbackAborted, "the secondary stayed in FAILOVER_ACTIVE")
		}
	case FailbackComplete:
		switch {
		case !p.HoldsVIP && p.State == SecondaryActive:
			s.want("failback: the secondary released the virtual IP", false)
		case p.State == FailoverActive && s.settled():
			s.set(Terminated)
			s.event(MsgFailbackAborted, "the secondary stayed in FAILOVER_ACTIVE")
		}
	}
}

func (s *stepper) secondaryHeard() {
	p := s.n.Peer
	primaryStandby := !p.HoldsVIP && (p.State == Terminated || p.State == FailoverInvoked ||
		p.State == FailbackActive || p.State == FailbackComplete)
	switch s.n.State {
	case SecondaryActive:
		if primaryStandby && p.State != FailbackActive && p.State != FailbackComplete {
			if p.State == FailoverInvoked && !s.n.Claim.Active {
				s.event(MsgFailoverShutdown, "switchover: the primary released the virtual IP")
			}
			s.want("the primary does not serve ("+string(p.State)+")", false)
		}
	case StateInitializing:
		switch {
		case p.HoldsVIP || p.State == GracefulShutdown:
			s.set(SecondaryActive)
		case primaryStandby:
			s.want("secondary restarted and the primary does not serve ("+string(p.State)+")", false)
		}
	case FailoverInvoked:
		if !s.n.HoldsVIP && (p.State == FailoverInvoked || p.State == Terminated) {
			s.want("switchover: the primary released the virtual IP", false)
		}
	case FailoverActive:
		if p.State == FailbackActive {
			s.set(FailbackActive)
			s.event(MsgFailbackInvoked, "requested by the primary")
			s.do(SendState{})
		}
	case FailbackActive:
		switch p.State {
		case FailbackComplete:
			s.set(SecondaryAlone)
			s.event(MsgFailbackStarting, "copying data back to the primary")
			s.n.Sync.Requested = true
			s.n.Sync.PeerSynced = false
			s.n.Sync.Percent = 0
			s.do(Sync{Kind: SyncCopyBack, Epoch: s.n.Epoch}, SendState{})
		case Terminated:
			if s.settled() {
				s.set(FailoverActive)
				s.event(MsgFailbackAborted, "the primary stayed TERMINATED")
			}
		}
	case SecondaryAlone:
		if p.State == Terminated && s.settled() {
			s.set(FailoverActive)
			s.event(MsgFailbackAborted, "the primary is TERMINATED")
		}
	}
}

// maybeSync starts replication from the VIP holder to a standby peer.
func (s *stepper) maybeSync() {
	p := s.n.Peer
	if !s.n.HoldsVIP || !p.Up || p.HoldsVIP || s.n.Sync.Requested ||
		p.State == GracefulShutdown || p.State == StateInitializing {
		return
	}
	kind := SyncResync
	if !s.n.Sync.EverSynced {
		kind = SyncInitial
	}
	s.n.Sync.Requested = true
	s.n.Sync.PeerSynced = false
	s.n.Sync.Percent = 0
	s.event(MsgSyncInProgress, string(kind))
	s.do(Sync{Kind: kind, Epoch: s.n.Epoch})
}

func (s *stepper) peerDown() {
	wasUp := s.n.Peer.Up
	s.n.Peer.Up = false
	s.n.Peer.HoldsVIP = false
	s.n.Sync.Requested = false
	s.n.Sync.PeerSynced = false
	if wasUp {
		s.event(MsgHeartbeatsDown, fmt.Sprintf("peer %s silent for %s", s.n.Config.Peer, s.n.Config.FailoverWait))
	}
	s.quiet()
	s.silence()
}

// suspect starts gathering the votes of the takeover that silence would
// start, without claiming yet.
func (s *stepper) suspect() {
	cfg := s.n.Config
	// A holder goes quiet already now: a peer that takes over does so at
	// PeerDown at the earliest, after our last announcement.
	s.quiet()
	if s.n.Claim.Active || s.n.HoldsVIP || s.peerGraceful() || cfg.FailoverType != Automatic || s.degraded() {
		return
	}
	if (s.role() == Secondary && s.n.State == SecondaryActive) || (s.role() == Primary && s.n.State == Terminated) {
		s.want("the peer is silent on every path", true)
		s.n.Claim.Early = true
	}
}

// silence reacts to a peer that has been silent on every path for the
// failover wait.
func (s *stepper) silence() {
	if s.n.State == GracefulShutdown {
		return
	}
	cfg := s.n.Config
	graceful := s.peerGraceful()
	if s.role() == Primary {
		switch s.n.State {
		case FailoverInvoked, FailbackActive, FailbackComplete:
			if s.n.State != FailoverInvoked {
				s.event(MsgFailbackAborted, "the secondary is silent")
			}
			s.set(Terminated)
		}
		switch s.n.State {
		case Terminated, StateInitializing:
			switch {
			case graceful:
				s.notice(MsgTakeoverDeferred, "the secondary shut down gracefully; waiting for it")
			case s.n.State == Terminated && cfg.FailoverType == Automatic && s.refuseDegradedTakeover():
			case s.n.State == StateInitializing || cfg.FailoverType == Automatic:
				s.want("the secondary is silent on every path", true)
			default:
				s.notice(MsgTakeoverDeferred, "the secondary is silent; failover type is manual")
			}
		}
		return
	}
	switch s.n.State {
	case FailbackActive, SecondaryAlone:
		s.set(FailoverActive)
		s.event(MsgFailbackAborted, "the primary is silent")
	case FailoverInvoked:
		if !s.n.HoldsVIP {
			s.want("switchover: the primary is silent", false)
		}
	case SecondaryActive, StateInitializing:
		switch {
		case graceful:
			s.set(SecondaryActive)
			s.notice(MsgTakeoverDeferred, "the primary shut down gracefully; not failing over")
		case cfg.FailoverType == Automatic && s.refuseDegradedTakeover():
			s.set(SecondaryActive)
		case cfg.FailoverType == Automatic:
			s.want("the primary is silent on every path for the failover wait", true)
		default:
			s.set(SecondaryActive)
			s.notice(MsgTakeoverDeferred, "the primary is silent; failover type is manual: use switchover")
		}
	}
}

func (s *stepper) tick() {
	cfg := s.n.Config
	s.appHoldDown()
	if !s.n.Peer.Up && !s.n.Claim.Active {
		last := s.n.Since
		if s.n.Peer.HeardAt.After(last) {
			last = s.n.Peer.HeardAt
		}
		if s.now.Sub(last) >= cfg.FailoverWait {
			s.silence()
		}
	}
	if s.n.Claim.Active && s.now.Sub(s.n.Claim.ProbedAt) >= cfg.FailoverWait {
		s.probe()
	}
	s.tryClaim()
	if s.n.Peer.Up && s.n.State != GracefulShutdown {
		s.react()
	}
}

// want starts (or keeps) a claim of the VIP and asks for its votes.
func (s *stepper) want(reason string, needVotes bool) {
	if s.n.HoldsVIP || s.refuseIneligible() {
		return
	}
	if s.n.Claim.Active {
		s.n.Claim.NeedVotes = s.n.Claim.NeedVotes && needVotes
		s.n.Claim.Early = false
		s.tryClaim()
		return
	}
	s.n.Claim = Claim{Active: true, Since: s.now, NeedVotes: needVotes, Reason: reason}
	s.probe()
}

func (s *stepper) probe() {
	s.n.Claim.ProbedAt = s.now
	s.do(ProbeVIP{})
	if s.n.Claim.NeedVotes {
		s.do(ProbeGateway{})
		if s.n.Config.Witness {
			s.do(AskWitness{})
		}
	}
}

func fresh(t, since time.Time) bool { return !t.IsZero() && !t.Before(since) }

// tryClaim takes the VIP when every vote the claim needs is in.
func (s *stepper) tryClaim() {
	c := s.n.Claim
	if !c.Active || c.Early || s.n.HoldsVIP {
		return
	}
	if !fresh(c.VIPFree, c.Since) {
		return
	}
	if c.NeedVotes && (!fresh(c.GatewayOK, c.Since) || (s.n.Config.Witness && !fresh(c.WitnessOK, c.Since))) {
		return
	}
	if s.busy != "" && s.role() == Secondary {
		s.notice(MsgTakeoverRefused, fmt.Sprintf("failover for %s refused: already active for %s (a secondary serves one primary at a time)", s.n.Config.Peer, s.busy))
		if s.n.State == FailoverInvoked || s.n.State == StateInitializing {
			// Stand by visibly, so that the primary serves again.
			s.n.Claim = Claim{}
			s.set(SecondaryActive)
			s.do(SendState{})
		}
		return
	}
	if s.n.ReplicaIncomplete != "" {
		s.notice(MsgTakeoverRefused, "this node has no complete copy of the instance data ("+s.n.ReplicaIncomplete+"): not serving it")
		s.n.Claim = Claim{}
		if s.role() == Secondary && (s.n.State == FailoverInvoked || s.n.State == StateInitializing) {
			// Stand by visibly, so that the primary serves again if it can.
			s.set(SecondaryActive)
			s.do(SendState{})
		}
		return
	}
	s.claim(c.Reason)
}

// replicaUsable records whether this node's replica may be served; a claim
// refused for an incomplete copy is retried by the next silence or command.
func (s *stepper) replicaUsable(e ReplicaUsable) {
	if e.Usable {
		s.n.ReplicaIncomplete = ""
		return
	}
	s.n.ReplicaIncomplete = e.Reason
	if s.n.ReplicaIncomplete == "" {
		s.n.ReplicaIncomplete = "the initial sync never completed"
	}
}

func nextEpoch(r Role, base uint64) uint64 {
	e := base + 1
	if (r == Primary) != (e%2 == 0) {
		e++
	}
	return e
}

// claim takes the VIP with a new epoch.
func (s *stepper) claim(reason string) {
	prev := s.n.State
	s.n.Epoch = nextEpoch(s.role(), max(s.n.Epoch, s.n.Peer.Epoch))
	s.n.HoldsVIP = true
	s.n.Quiet = false
	s.n.Claim = Claim{}
	s.n.Sync.Requested = false
	s.do(AddVIP{Epoch: s.n.Epoch}, StartInstance{})
	if s.role() == Primary {
		s.set(PrimaryActive)
		if prev == FailbackComplete {
			s.n.LastFailback = s.now
		}
		s.event(MsgActive, reason)
	} else {
		s.set(FailoverInvoked)
		s.n.LastFailover = s.now
		s.event(MsgFailoverReconfigure, reason)
		s.event(MsgFailoverStarting, fmt.Sprintf("epoch %d", s.n.Epoch))
	}
	s.do(SendState{})
	s.maybeSync()
}

func (s *stepper) gatewayProbe(e GatewayProbe) {
	if !s.n.Claim.Active {
		return
	}
	if e.Reachable {
		s.n.Claim.GatewayOK = s.now
		s.tryClaim()
		return
	}
	s.n.Claim.GatewayOK = time.Time{}
	s.notice(MsgTakeoverDeferred, "the default gateway does not answer: this node may be the isolated one")
}

func (s *stepper) witnessVote(e WitnessVote) {
	if !s.n.Claim.Active {
		return
	}
	if e.PeerDown {
		s.n.Claim.WitnessOK = s.now
		s.tryClaim()
		return
	}
	s.n.Claim.WitnessOK = time.Time{}
	s.notice(MsgTakeoverDeferred, "the witness still sees the peer")
}

func (s *stepper) vipProbe(e VIPProbe) {
	switch {
	case e.Owner == "" && s.n.Claim.Active:
		s.n.Claim.VIPFree = s.now
		s.tryClaim()
	case e.Owner != "" && s.n.Claim.Active:
		s.n.Claim.VIPFree = time.Time{}
		s.notice(MsgTakeoverRefused, "the virtual IP is answered by "+e.Owner+": not claiming it (split brain avoided)")
	case e.Owner == "" && s.n.HoldsVIP:
		s.n.ConflictSince = time.Time{}
	case e.Owner != "" && s.n.HoldsVIP && !s.n.Peer.Up:
		s.vipConflict(e)
	}
}

// vipConflict: another host answers for the VIP we hold and heartbeats
// cannot tell whose claim is newer. They get a failover wait to return
// (the usual case: a partition just healed) and decide by epoch. If they
// stay silent and the other owner looks like the peer, the claim that is
// newer still wins: a secondary holds the VIP only by a takeover made
// after the primary's last claim (a primary claims only once the
// secondary has released), so the writes it served since stay the truth.
// But ARP can be spoofed by any host on the LAN: a node yields only when
// the peer confirms over its authenticated API (AskPeerClaim, peerClaim)
// that it holds the VIP under a newer epoch. The primary asks when the
// other owner looks like the peer; a secondary in charge asks when a
// stranger answers (whatever looks like the peer it outranks by its
// takeover). A stranger answering for the VIP (a misconfigured host, a
// spoofer) never makes a node give up its service.
func (s *stepper) vipConflict(e VIPProbe) {
	who := "another host (" + e.Owner + ")"
	if e.ByPeer {
		who = "the peer (" + e.Owner + ")"
	}
	if s.n.ConflictSince.IsZero() {
		s.n.ConflictSince = s.now
		s.notice(MsgSplitBrain, "the virtual IP is also answered by "+who+"; waiting for heartbeats to decide by epoch")
		s.do(SendState{})
		return
	}
	if s.now.Sub(s.n.ConflictSince) < s.n.Config.FailoverWait {
		return
	}
	switch {
	case s.role() == Primary && !e.ByPeer:
		s.notice(MsgSplitBrain, "the virtual IP is also answered by "+who+"; the primary keeps it")
	case s.role() == Secondary && e.ByPeer:
		s.notice(MsgSplitBrain, "the virtual IP is also answered by "+who+"; the secondary's takeover is the newer claim: keeping it")
	default:
		// ARP answers are spoofable: anyone on the LAN can answer for
		// the VIP and for the peer's address alike. Only the peer itself,
		// over its authenticated API, can say it holds the VIP.
		s.askPeerClaim()
	}
}

// askPeerClaim asks the peer whether it holds the VIP, at most once per
// failover wait (at least a second apart): ARP probes that keep seeing a
// conflict do not turn into a stream of questions.
func (s *stepper) askPeerClaim() {
	every := max(s.n.Config.FailoverWait, time.Second)
	if !s.n.ClaimAskedAt.IsZero() && s.now.Sub(s.n.ClaimAskedAt) < every {
		return
	}
	s.n.ClaimAskedAt = s.now
	s.do(AskPeerClaim{})
}

// peerClaim: the peer's authenticated answer to a node that sees another
// owner of its VIP over ARP without heartbeats. The node yields only when
// the peer confirms it holds the VIP under a newer epoch; anything else
// (no answer, a peer standing by, an older claim) means the ARP answers
// came from someone else, and the node keeps serving.
func (s *stepper) peerClaim(e PeerClaim) {
	if !s.n.HoldsVIP || s.n.Peer.Up || s.n.ConflictSince.IsZero() {
		return // heartbeats decide again, or nothing is in conflict
	}
	me := "the " + string(s.role())
	if !e.Answered || !e.HoldsVIP || e.Epoch <= s.n.Epoch {
		remarks := "the peer does not confirm it holds the virtual IP"
		if !e.Answered {
			remarks = "the peer does not answer its authenticated API"
		}
		s.notice(MsgSplitBrain, "the virtual IP is also answered over ARP, but "+remarks+": "+me+" keeps it")
		return
	}
	s.event(MsgSplitBrain, fmt.Sprintf("the peer confirms over its authenticated API that it holds the virtual IP (epoch %d, ours %d): its claim is newer, %s releases it", e.Epoch, s.n.Epoch, me))
	s.release()
	if s.role() == Primary {
		s.set(Terminated)
		s.n.LastFailover = s.now
	} else {
		s.set(SecondaryActive)
	}
	s.do(SendState{})
}

func (s *stepper) shutdown() {
	if s.n.State == GracefulShutdown {
		return
	}
	s.n.LastShutdownState = s.n.State
	s.release()
	s.set(GracefulShutdown)
	s.event(MsgGracefulShutdown, "last state "+string(s.n.LastShutdownState))
	s.do(SendState{})
}

func (s *stepper) synced() {
	s.n.Sync.Percent = 100
	if !s.n.HoldsVIP {
		return
	}
	s.n.Sync.PeerSynced = true
	if !s.n.Sync.EverSynced {
		s.n.Sync.EverSynced = true
		s.event(MsgActive, RemarkSynchronized)
	}
	if s.n.State == SecondaryAlone {
		// Copy-back done: hand the VIP back; the primary claims it when
		// it sees us standing by.
		s.release()
		s.set(SecondaryActive)
		s.n.LastFailback = s.now
		s.event(MsgFailbackDone, "")
		s.do(SendState{})
		return
	}
	s.maybeAutoFailback()
}

func (s *stepper) instanceStarted() {
	s.n.InstanceRunning = true
	if s.n.State == FailoverInvoked && s.n.HoldsVIP {
		s.set(FailoverActive)
		s.event(MsgFailoverActive, "")
		s.do(SendState{})
	}
}

// window returns the rest of the stabilization window after t, or 0.
func (s *stepper) window(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return max(0, s.n.Config.StabilizationWindow-s.now.Sub(t))
}

func (s *stepper) switchover(e Switchover) {
	const cmd = "Switchover"
	p := s.n.Peer
	if rest := s.window(s.n.LastFailback); rest > 0 && !e.Force {
		s.refuse(cmd, fmt.Sprintf("a failback finished at %s; the database needs %s to stabilize (%s remaining); use force to override",
			humantime.Time(s.n.LastFailback), humantime.Duration(s.n.Config.StabilizationWindow), humantime.Duration(rest)))
		return
	}
	if s.degradedTarget(cmd) && !e.Force {
		s.refuse(cmd, fmt.Sprintf(appDegradedPeerForce, "secondary"))
		return
	}
	if s.role() == Primary && p.Up && p.Ineligible {
		s.refuse(cmd, peerIneligible)
		return
	}
	if s.role() == Primary {
		if s.n.State != PrimaryActive || !p.Up || p.State != SecondaryActive {
			s.refuse(cmd, fmt.Sprintf("needs this primary in PRIMARY_ACTIVE and a reachable secondary in SECONDARY_ACTIVE (now %s, secondary %s)", s.n.State, s.peerDesc()))
			return
		}
		if !s.n.Sync.EverSynced {
			// The secondary would refuse to serve an incomplete copy and
			// the service would be down for a failover wait.
			s.refuse(cmd, fmt.Sprintf(initialSyncRefusal, fmt.Sprintf("the initial synchronization with the secondary is %d%% complete", s.n.Sync.Percent)))
			return
		}
		s.release()
		s.set(FailoverInvoked)
		s.n.LastFailover = s.now
		s.event(MsgFailoverShutdown, "switchover")
		s.do(SendState{})
		return
	}
	if !s.mayServe() {
		s.refuse(cmd, s.roleNone())
		return
	}
	if s.busy != "" {
		s.refuse(cmd, fmt.Sprintf("this secondary is already active for %s (a secondary serves one primary at a time)", s.busy))
		return
	}
	if s.n.State != SecondaryActive {
		s.refuse(cmd, fmt.Sprintf("needs this secondary in SECONDARY_ACTIVE (now %s)", s.n.State))
		return
	}
	if s.n.ReplicaIncomplete != "" {
		s.refuse(cmd, fmt.Sprintf(initialSyncRefusal, "this secondary has no complete copy of the instance data ("+s.n.ReplicaIncomplete+")"))
		return
	}
	s.set(FailoverInvoked)
	s.event(MsgFailoverShutdown, "switchover")
	s.do(SendState{})
	if !p.Up || p.State == Terminated || p.State == FailoverInvoked {
		s.want("switchover", false)
	}
}

// peerIn is the remark "peer P in STATE"; a peer that has not taken a
// state yet (its monitor is still starting) says so instead of leaving
// the sentence cut.
func peerIn(peer string, st State) string {
	if st == "" {
		return "peer " + peer + ", no state yet"
	}
	return "peer " + peer + " in " + string(st)
}

func (s *stepper) peerDesc() string {
	if !s.n.Peer.Up {
		return "unreachable"
	}
	return string(s.n.Peer.State)
}

func (s *stepper) failback(e Failback) {
	const cmd = "Failback"
	p := s.n.Peer
	if s.role() == Primary && !s.mayServe() {
		s.refuse(cmd, s.roleNone())
		return
	}
	if s.role() == Secondary && p.Up && p.Ineligible {
		s.refuse(cmd, peerIneligible)
		return
	}
	if s.role() == Primary && s.n.State == Terminated && !p.Up && e.Force {
		// The secondary is gone and the operator says so: serve again
		// (the VIP probe still guards against a secondary that is only
		// unreachable).
		s.event(MsgFailbackInvoked, "forced: the secondary is unreachable")
		s.want("forced failback with the secondary unreachable", false)
		return
	}
	ok := p.Up && ((s.role() == Primary && s.n.State == Terminated && p.State == FailoverActive) ||
		(s.role() == Secondary && s.n.State == FailoverActive && p.State == Terminated))
	if !ok {
		s.refuse(cmd, fmt.Sprintf("needs the primary TERMINATED and the secondary FAILOVER_ACTIVE, both reachable, or force on a TERMINATED primary whose secondary is gone (now %s, peer %s)", s.n.State, s.peerDesc()))
		return
	}
	if rest := s.window(s.n.LastFailover); rest > 0 && !e.Force {
		s.refuse(cmd, fmt.Sprintf("a failover happened at %s; the database needs %s to stabilize (%s remaining); use force to override",
			humantime.Time(s.n.LastFailover), humantime.Duration(s.n.Config.StabilizationWindow), humantime.Duration(rest)))
		return
	}
	if s.degradedTarget(cmd) && !e.Force {
		s.refuse(cmd, fmt.Sprintf(appDegradedPeerForce, "primary"))
		return
	}
	s.startFailback("manual")
}

func (s *stepper) startFailback(how string) {
	s.set(FailbackActive)
	s.event(MsgFailbackInvoked, how)
	s.do(SendState{})
}

// maybeAutoFailback: with failback type automatic the secondary hands the
// service back once the recovered primary is synced and the stabilization
// window has passed.
func (s *stepper) maybeAutoFailback() {
	n := s.n
	if s.role() != Secondary || n.Config.FailbackType != Automatic || n.State != FailoverActive ||
		!n.Peer.Up || n.Peer.State != Terminated || !n.Sync.PeerSynced || n.Peer.Ineligible {
		return
	}
	if rest := s.window(n.LastFailover); rest > 0 {
		s.notice(MsgTakeoverDeferred, fmt.Sprintf("automatic failback waits %s for the stabilization window", humantime.Duration(rest)))
		return
	}
	s.startFailback("automatic")
}
