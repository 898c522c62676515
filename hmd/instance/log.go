package instance

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/hafw/hafw/hmd/replicate"
)

// The methods below make DB a replicate.Log.
var _ replicate.Log = (*DB)(nil)

// Position implements replicate.Log.
func (d *DB) Position() (last, first, epoch uint64, history []replicate.EpochStart) {
	var m meta
	// A failing read transaction on an open bbolt file cannot happen short
	// of a closed database; it reads as an empty log.
	_ = d.view(func(tx *bolt.Tx) error {
		m = readMeta(tx)
		return nil
	})
	return m.last, m.first, m.epoch, m.history
}

// Frames implements replicate.Log.
func (d *DB) Frames(seq uint64, limit int) ([][]byte, error) {
	var out [][]byte
	err := d.view(func(tx *bolt.Tx) error {
		m := readMeta(tx)
		if seq < m.first {
			return fmt.Errorf("entry %d (oldest kept %d): %w", seq, m.first, replicate.ErrCompacted)
		}
		c := tx.Bucket(bucketLog).Cursor()
		for k, v := c.Seek(seqKey(seq)); k != nil && len(out) < limit; k, v = c.Next() {
			out = append(out, bytes.Clone(v))
		}
		return nil
	})
	return out, err
}

// Apply implements replicate.Log: the standby commits received entries,
// data and log in one durable transaction.
func (d *DB) Apply(entries []replicate.Entry) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	err := d.db.Update(func(tx *bolt.Tx) error {
		m := readMeta(tx)
		for _, e := range entries {
			if e.Seq != m.last+1 {
				return fmt.Errorf("entry %d does not follow %d", e.Seq, m.last)
			}
			for _, op := range e.Ops {
				if _, err := applyOp(tx, op); err != nil {
					return fmt.Errorf("entry %d: %w", e.Seq, err)
				}
			}
			if err := appendEntry(tx, m, e, d.retain); err != nil {
				return err
			}
			m = readMeta(tx)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("apply replicated entries: %w", err)
	}
	return nil
}

// Undo implements replicate.Log.
func (d *DB) Undo(seq uint64) ([]replicate.Entry, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	var undone []replicate.Entry
	err := d.db.Update(func(tx *bolt.Tx) error {
		m := readMeta(tx)
		if seq+1 < m.first && seq < m.last {
			return fmt.Errorf("undo to %d: %w", seq, replicate.ErrCompacted)
		}
		lb := tx.Bucket(bucketLog)
		for s := m.last; s > seq; s-- {
			f, err := replicate.ParseFrame(lb.Get(seqKey(s)))
			if err != nil {
				return fmt.Errorf("log entry %d: %w", s, err)
			}
			e, err := replicate.DecodeEntry(f.Payload)
			if err != nil {
				return fmt.Errorf("log entry %d: %w", s, err)
			}
			for i := len(e.Ops) - 1; i >= 0; i-- {
				if err := undoOp(tx, e.Ops[i]); err != nil {
					return fmt.Errorf("undo entry %d: %w", s, err)
				}
			}
			if err := lb.Delete(seqKey(s)); err != nil {
				return err
			}
			undone = append(undone, e)
		}
		m.last = min(m.last, seq)
		m.history = replicate.Truncate(m.history, m.last)
		return writeMeta(tx, m)
	})
	if err != nil {
		return nil, fmt.Errorf("undo instance entries: %w", err)
	}
	return undone, nil
}

// snapshot is a bbolt read transaction: a consistent view that writers do
// not block.
type snapshot struct {
	tx  *bolt.Tx
	seq uint64
	rel func()
}

func (s *snapshot) Size() int64                        { return s.tx.Size() }
func (s *snapshot) Seq() uint64                        { return s.seq }
func (s *snapshot) WriteTo(w io.Writer) (int64, error) { return s.tx.WriteTo(w) }
func (s *snapshot) Close() error {
	err := s.tx.Rollback()
	s.rel()
	return err
}

// Snapshot implements replicate.Log. Install waits until it is closed.
func (d *DB) Snapshot() (replicate.Snapshot, error) {
	d.mu.RLock()
	tx, err := d.db.Begin(false)
	if err != nil {
		d.mu.RUnlock()
		return nil, fmt.Errorf("snapshot instance database: %w", err)
	}
	return &snapshot{tx: tx, seq: readMeta(tx).last, rel: d.mu.RUnlock}, nil
}

// SnapshotPath implements replicate.Log.
func (d *DB) SnapshotPath() string { return d.path + ".incoming" }

// Install implements replicate.Log: the received copy is checked to be a
// bbolt database, then replaces this one (rename, directory synced).
func (d *DB) Install(path string) error {
	check, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("received copy is not a database: %w", err)
	}
	if err := check.Close(); err != nil {
		return fmt.Errorf("received copy: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("close before install: %w", err)
	}
	errRename := os.Rename(path, d.path)
	if errRename == nil {
		errRename = syncDir(filepath.Dir(d.path))
	}
	// Reopen whatever is there now: the old database if the rename failed.
	if err := d.open(); err != nil {
		return errors.Join(errRename, err)
	}
	if errRename != nil {
		return fmt.Errorf("install received copy: %w", errRename)
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
