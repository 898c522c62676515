package replicate

// Data replication states, as the seed's management page shows them.
const (
	StateDown      = "Down"
	StateSettingUp = "Setting up"
	StateUp        = "Up"
)

// Status is the replication as the active side sees it; hmd puts it into
// its API status, hactl status and the events log.
type Status struct {
	// State is StateDown, StateSettingUp or StateUp.
	State string `json:"state"`
	Mode  Mode   `json:"mode"`
	// Percent of the running sync (snapshot bytes, then catch-up
	// entries); 100 when Up.
	Percent  int    `json:"percent"`
	LastSeq  uint64 `json:"last_seq"`
	AckedSeq uint64 `json:"acked_seq"`
	// Lag is LastSeq-AckedSeq: entries committed here the standby has not
	// confirmed (maximum performance reports it; Up in the synchronous
	// modes means it is 0 for every acknowledged write).
	Lag uint64 `json:"lag"`
	// LagBytes is the size of those entries and LagSeconds how long ago
	// the oldest of them was shipped (both 0 when the standby has all).
	LagBytes   uint64  `json:"lag_bytes"`
	LagSeconds float64 `json:"lag_seconds"`
	// Reason says why the state is Down, or what the last stall was.
	Reason string `json:"reason,omitempty"`
	// Resent counts entries the standby refused (bad checksum) and that
	// were sent again.
	Resent uint64 `json:"resent"`
	// Stalls counts syncs that stopped progressing and were restarted.
	Stalls uint64 `json:"stalls"`
	// SnapshotBytes is the size of the last full copy sent (0 if none);
	// EntriesShipped counts entries sent since start (tests count the
	// failback's changes with it).
	SnapshotBytes uint64 `json:"snapshot_bytes"`
	// ResumedAt is the byte offset the last full copy resumed at after an
	// interruption (0 when it started from the beginning).
	ResumedAt      uint64 `json:"resumed_at"`
	EntriesShipped uint64 `json:"entries_shipped"`
	// Protocol is the replication protocol version of the session (0
	// before the first handshake).
	Protocol uint8 `json:"protocol,omitempty"`
}
