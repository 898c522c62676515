package ha

import "time"

// Action is an output of Step for hmd's executors. The concrete types below
// are the whole set; executors carry them out in the order given.
type Action interface{ isAction() }

// AddVIP: add the VIP to the health-monitor interface and announce it with
// gratuitous ARP (a burst now, refreshes while held).
type AddVIP struct{ Epoch uint64 }

// RemoveVIP: remove the VIP (idempotent; also used at start-up to drop a
// VIP this node does not own).
type RemoveVIP struct{}

// AnnounceVIP: announce the VIP this node holds again, at once (a burst of
// gratuitous ARP) and with refreshes from then on. Given when the peer
// steps down or a partition heals in this node's favour, so that clients
// that still point at the peer move now rather than at the next refresh,
// and when a quiet holder (QuietVIP) hears its peer again.
type AnnounceVIP struct{}

// QuietVIP: keep the VIP (the address stays, ARP requests are answered)
// but stop the periodic gratuitous ARP. Given to a holder whose peer went
// silent and may take over: if the peer is alive behind a cut and claims,
// both hold the VIP until the cut heals, and two holders re-announcing
// every refresh would flip the clients between them each time. The quiet
// one is the one whose claim the peer's takeover supersedes, so clients
// settle on the newer claim, which also keeps the VIP when the cut heals.
// Switches and clients still learn the quiet holder's MAC from the frames
// it sends and the ARP requests it answers.
type QuietVIP struct{}

// StartInstance: start the application instance (on the secondary: open
// the replica at the last acknowledged sequence).
type StartInstance struct{}

// StopInstance: stop the application instance (idempotent).
type StopInstance struct{}

// SyncKind says which data movement a Sync action starts.
type SyncKind string

// Kinds of sync.
const (
	// SyncInitial: first full copy after pairing.
	SyncInitial SyncKind = "initial"
	// SyncResync: the standby peer came back (or lost a split brain);
	// ship what it misses, quarantining its divergent writes.
	SyncResync SyncKind = "resync"
	// SyncCopyBack: failback; copy what changed since the failover back
	// to the primary.
	SyncCopyBack SyncKind = "copy-back"
)

// Sync starts replication from this node (the VIP holder) to the peer.
// Completion is reported back as ReplicationSynced.
type Sync struct {
	Kind SyncKind
	// Epoch is the holder's epoch: the fork point of data replication.
	Epoch uint64
}

// SendState: send a heartbeat with the new state now on every path, not
// at the next interval.
type SendState struct{}

// ProbeVIP: ARP-probe the VIP; answer with VIPProbe.
type ProbeVIP struct{}

// AskPeerClaim: ask the peer over its authenticated API whether it holds
// the VIP; answer with PeerClaim.
type AskPeerClaim struct{}

// ProbeGateway: ARP-probe the default gateway; answer with GatewayProbe.
type ProbeGateway struct{}

// AskWitness: ask the witness whether it sees the peer gone; answer with
// WitnessVote. Only emitted when Config.Witness is set.
type AskWitness struct{}

// Record is one row of the events log, with the seed's columns.
type Record struct {
	Description string
	GeneratedBy string
	Time        time.Time
	Remarks     string
}

// AppendEvent: append a row to the events log.
type AppendEvent struct{ Record Record }

// Refused: an API command was refused; Reason says why (the API returns
// it to the caller). The same text is also logged with AppendEvent.
type Refused struct {
	Command string
	Reason  string
}

func (AddVIP) isAction()        {}
func (RemoveVIP) isAction()     {}
func (AnnounceVIP) isAction()   {}
func (QuietVIP) isAction()      {}
func (StartInstance) isAction() {}
func (StopInstance) isAction()  {}
func (Sync) isAction()          {}
func (SendState) isAction()     {}
func (ProbeVIP) isAction()      {}
func (ProbeGateway) isAction()  {}
func (AskPeerClaim) isAction()  {}
func (AskWitness) isAction()    {}
func (AppendEvent) isAction()   {}
func (Refused) isAction()       {}
