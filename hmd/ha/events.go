package ha

// Event is an input of Step. The concrete types below are the whole set.
type Event interface{ isEvent() }

// Started is given once to a node restored from disk (or created by New)
// when hmd starts: it holds nothing until it has learned what its peer did.
type Started struct{}

// Heartbeat is a valid heartbeat from the peer (any path).
type Heartbeat struct {
	State    State
	Epoch    uint64
	HoldsVIP bool
	// Graceful is set when the peer announces an orderly shutdown.
	Graceful bool
	// Degraded is set while the peer's application failed within its
	// hold-down (see AppFailed): it must not be handed the service.
	Degraded bool
	// Ineligible is set while the peer may take no HA role (its
	// Eligibility): it must not be handed the service either.
	Ineligible bool
}

// PeerDown: every heartbeat path has been silent for the failover wait.
type PeerDown struct{}

// PeerSuspect: every heartbeat path has been silent for half the failover
// wait. A node that would take over at PeerDown gathers its votes (VIP,
// gateway and witness probes) now, so that the takeover at PeerDown does
// not add a probe timeout to the outage; a heartbeat in between voids them.
type PeerSuspect struct{}

// Tick is a timer tick (hmd sends one at least every FailoverWait/4).
type Tick struct{}

// Switchover is the API command that moves service to the secondary (the
// only way to fail over with failover type manual). Force skips the
// stabilization window.
type Switchover struct{ Force bool }

// Failback is the API command that moves service back to the primary.
// Force skips the stabilization window.
type Failback struct{ Force bool }

// GatewayProbe is the result of ProbeGateway: did the default gateway
// answer an ARP request?
type GatewayProbe struct{ Reachable bool }

// WitnessVote is the witness's answer to AskWitness: does it also see the
// peer gone?
type WitnessVote struct{ PeerDown bool }

// VIPProbe is the result of ProbeVIP (an ARP probe of the VIP), or of the
// executor's periodic check while holding it. Owner is the hardware address
// of another host answering for the VIP, "" when nobody else does; ByPeer
// says that host is the peer itself (its health-monitor address answers
// from the same hardware address) rather than a stranger.
type VIPProbe struct {
	Owner  string
	ByPeer bool
}

// PeerClaim is the answer to AskPeerClaim: what the peer says of the VIP
// over an authenticated channel (its API, behind its pinned certificate).
// Answered is false when the peer could not be asked or did not answer.
type PeerClaim struct {
	Answered bool
	HoldsVIP bool
	Epoch    uint64
}

// ShutdownRequested is a local orderly shutdown (SIGTERM, reboot).
type ShutdownRequested struct{}

// ReplicationProgress reports the running sync towards the peer.
type ReplicationProgress struct{ Percent int }

// ReplicationSynced: the standby side has caught up with the active side
// (initial sync, resync or failback copy-back finished).
type ReplicationSynced struct{}

// ReplicaUsable tells a standby whether its local copy of the instance data
// is complete (Reason says why not). A standby whose initial or fallback
// full copy never finished holds an old or empty database: taking over with
// it would silently lose what the active node acknowledged, so the machine
// refuses the takeover (MsgTakeoverRefused) and keeps standing by until the
// copy completes, instead of claiming the VIP and then hanging in
// FAILOVER_INVOKED with an instance that cannot start. hmd feeds it when
// the answer changes; a node never told is usable.
type ReplicaUsable struct {
	Usable bool
	Reason string
}

// InstanceStarted: the application instance runs on this node.
type InstanceStarted struct{}

// InstanceStopped: the application instance no longer runs on this node.
type InstanceStopped struct{}

// AppFailed: the application monitor's policy tripped on this node (too
// many restarts or failed health checks within its window); Reason says
// which application and why. On the active node it hands the service to a
// healthy, synchronized peer; on either side the node is degraded for
// Config.AppHoldDown: it will not take over automatically, and its peer
// will not hand it the service, so a flapping application does not
// ping-pong the service between the two.
type AppFailed struct{ Reason string }

// AppCleared: the operator says the application is repaired; the node is
// no longer degraded.
type AppCleared struct{}

func (AppFailed) isEvent()           {}
func (AppCleared) isEvent()          {}
func (Started) isEvent()             {}
func (Heartbeat) isEvent()           {}
func (PeerDown) isEvent()            {}
func (PeerSuspect) isEvent()         {}
func (Tick) isEvent()                {}
func (Switchover) isEvent()          {}
func (Failback) isEvent()            {}
func (GatewayProbe) isEvent()        {}
func (WitnessVote) isEvent()         {}
func (VIPProbe) isEvent()            {}
func (PeerClaim) isEvent()           {}
func (ShutdownRequested) isEvent()   {}
func (ReplicationProgress) isEvent() {}
func (ReplicationSynced) isEvent()   {}
func (ReplicaUsable) isEvent()       {}
func (InstanceStarted) isEvent()     {}
func (InstanceStopped) isEvent()     {}
