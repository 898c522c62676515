package replicate

import (
	"errors"
	"fmt"
	"io"
)

// ErrCompacted: the log no longer holds the entries asked for; the standby
// needs a full copy.
var ErrCompacted = errors.New("log entries no longer kept")

// Log is the instance database as replication sees it (package instance
// implements it on bbolt).
type Log interface {
	// Position is the last sequence number, the first one still kept in
	// the log, the current epoch and the epoch history.
	Position() (last, first, epoch uint64, history []EpochStart)
	// Frames returns up to max stored entry frames from seq on (fewer at
	// the end of the log), ErrCompacted when seq is no longer kept.
	Frames(seq uint64, max int) ([][]byte, error)
	// Apply commits entries received from the active side durably, in one
	// transaction; they follow the log's last entry in order.
	Apply(entries []Entry) error
	// Undo removes the entries after seq, restoring the before-images,
	// and returns them (newest first) for the quarantine file.
	Undo(seq uint64) ([]Entry, error)
	// Snapshot opens a consistent read-only view of the whole database.
	Snapshot() (Snapshot, error)
	// Install replaces the database with a received snapshot file.
	Install(path string) error
	// SnapshotPath is where a snapshot being received is kept, so that an
	// interrupted transfer resumes instead of restarting.
	SnapshotPath() string
}

// Snapshot is a consistent view of the database being copied.
type Snapshot interface {
	// Size is the exact number of bytes WriteTo writes.
	Size() int64
	// Seq is the last sequence number the snapshot contains.
	Seq() uint64
	WriteTo(w io.Writer) (int64, error)
	Close() error
}

// Mode is the protection mode, as Oracle Data Guard names them.
type Mode string

// Protection modes.
const (
	// MaxAvailability (default): a commit waits until the standby has made
	// it durable; when the standby is lost the commit succeeds locally,
	// replication is marked Down and resyncs when the standby returns.
	MaxAvailability Mode = "maximum-availability"
	// MaxProtection: no commit without the standby. A commit waits at
	// most ProtectionWait for the standby and then fails with
	// ErrNotProtected.
	MaxProtection Mode = "maximum-protection"
	// MaxPerformance: commits do not wait for the standby; the lag is
	// reported.
	MaxPerformance Mode = "maximum-performance"
)

// ParseMode accepts a mode name ("" is the default).
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "":
		return MaxAvailability, nil
	case MaxAvailability, MaxProtection, MaxPerformance:
		return m, nil
	}
	return "", fmt.Errorf("unknown protection mode %q (want %s, %s or %s)", s, MaxAvailability, MaxProtection, MaxPerformance)
}

// ErrNotProtected: in maximum protection the standby did not confirm in
// time. Admit returns it before anything is written; Committed returns it
// for a transaction committed locally whose replica is unconfirmed.
var ErrNotProtected = errors.New("standby unavailable: maximum protection refuses writes it cannot replicate")
