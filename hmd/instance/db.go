// Package instance is the service instance of an HA pair: the instance
// database the appliance's services store their state in (bbolt on the
// data partition, a small key/value API with transactions on a local unix
// socket), the instance file area (configuration, maps, licenses of the
// instance; replicated with a SHA-256 per file), and the application
// processes, which run only on the active node — the seed's "DORMANT mode"
// of the secondary is simply: database replica up to date, processes not
// started.
//
// Every transaction is also an entry of the replication log (package
// replicate), written in the same bbolt transaction as the data it
// changes, so that data and log can never disagree after a crash.
package instance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/hafw/hafw/hmd/replicate"
)

var (
	bucketKV    = []byte("kv")
	bucketFiles = []byte("files")
	bucketLog   = []byte("log")
	bucketMeta  = []byte("meta")

	metaLast    = []byte("last")
	metaFirst   = []byte("first")
	metaEpoch   = []byte("epoch")
	metaHistory = []byte("history")
)

// ErrNotFound: no such key or file.
var ErrNotFound = errors.New("not found")

// ErrChecksum: a file of the file area does not match its checksum.
var ErrChecksum = errors.New("file checksum mismatch")

// Replicator is told about each transaction (replicate.Active implements
// it): Admit before; Ship with its entry once it is complete, before the
// local commit, so that the standby can make it durable while this disk
// does; then Committed once it is durable here, or Abandon if the local
// commit failed after all.
type Replicator interface {
	Admit(ctx context.Context) error
	Ship(seq uint64, frame []byte)
	Abandon(seq uint64)
	Committed(ctx context.Context, seq uint64) error
}

// Options tune the database.
type Options struct {
	// Retain is how many log entries are kept for catch-up after a link
	// outage or a failback; older history needs a full copy (100000 when
	// zero).
	Retain uint64
	// OnCommit, if set, hears how long each committed transaction took,
	// from its start to the moment the service may be told "committed"
	// (local fsyncs and, in the synchronous modes, the standby's
	// acknowledgement): the commit latency the metrics show.
	OnCommit func(time.Duration)
}

// DB is the instance database. Methods are safe for concurrent use.
type DB struct {
	path     string
	retain   uint64
	onCommit func(time.Duration)

	// mu guards db against Install, which swaps the file underneath.
	mu sync.RWMutex
	db *bolt.DB
	// writeMu orders transactions: sequence numbers follow commit order.
	writeMu sync.Mutex
	repl    Replicator
}

// Open opens (creating) the database at path.
func Open(path string, opt Options) (*DB, error) {
	if opt.Retain == 0 {
		opt.Retain = 100000
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("instance database directory: %w", err)
	}
	d := &DB{path: path, retain: opt.Retain, onCommit: opt.OnCommit}
	if err := d.open(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *DB) open() error {
	// A large initial map: a long read transaction (a snapshot being sent
	// to the standby) would otherwise block writers whenever bbolt grows
	// its map.
	db, err := bolt.Open(d.path, 0o600, &bolt.Options{Timeout: 5 * time.Second, InitialMmapSize: 4 << 30, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return fmt.Errorf("open instance database %s: %w", d.path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketKV, bucketFiles, bucketLog, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return fmt.Errorf("initialise instance database %s: %w", d.path, err)
	}
	d.db = db
	return nil
}

// Close closes the database.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("close instance database: %w", err)
	}
	return nil
}

// SetReplicator installs (or, with nil, removes) the replication hook.
func (d *DB) SetReplicator(r Replicator) {
	d.writeMu.Lock()
	d.repl = r
	d.writeMu.Unlock()
}

// Txn is a read-write transaction given to Update's function.
type Txn struct {
	tx  *bolt.Tx
	ops []replicate.Op
}

// Get reads key as of this transaction (nil, ErrNotFound when absent).
func (t *Txn) Get(key []byte) ([]byte, error) {
	v := t.tx.Bucket(bucketKV).Get(key)
	if v == nil {
		return nil, ErrNotFound
	}
	return bytes.Clone(v), nil
}

// Put sets key to value.
func (t *Txn) Put(key, value []byte) error {
	return t.do(replicate.Op{Kind: replicate.OpPut, Key: key, Value: value})
}

// Delete removes key (absent keys are not an error and log nothing).
func (t *Txn) Delete(key []byte) error {
	return t.do(replicate.Op{Kind: replicate.OpDelete, Key: key})
}

// PutFile stores a file of the file area.
func (t *Txn) PutFile(name string, data []byte) error {
	if err := validFileName(name); err != nil {
		return err
	}
	return t.do(replicate.Op{Kind: replicate.OpPutFile, Key: []byte(name), Value: data})
}

// DeleteFile removes a file of the file area.
func (t *Txn) DeleteFile(name string) error {
	return t.do(replicate.Op{Kind: replicate.OpDeleteFile, Key: []byte(name)})
}

func (t *Txn) do(op replicate.Op) error {
	if len(op.Key) == 0 || len(op.Key) > bolt.MaxKeySize {
		return fmt.Errorf("key of %d bytes (want 1..%d)", len(op.Key), bolt.MaxKeySize)
	}
	op.Key = bytes.Clone(op.Key)
	op.Value = bytes.Clone(op.Value)
	applied, err := applyOp(t.tx, op)
	if err != nil {
		return err
	}
	if applied.Kind != 0 {
		t.ops = append(t.ops, applied)
	}
	return nil
}

// applyOp carries out op in tx and returns it with its before-image; a
// delete of something absent returns the zero Op (nothing to log).
func applyOp(tx *bolt.Tx, op replicate.Op) (replicate.Op, error) {
	b := tx.Bucket(bucketKV)
	if op.Kind == replicate.OpPutFile || op.Kind == replicate.OpDeleteFile {
		b = tx.Bucket(bucketFiles)
	}
	if old := b.Get(op.Key); old != nil {
		op.HadOld = true
		op.Old = bytes.Clone(old)
		if b == tx.Bucket(bucketFiles) {
			op.Old = op.Old[sha256.Size:]
		}
	} else {
		op.HadOld, op.Old = false, nil
	}
	var err error
	switch op.Kind {
	case replicate.OpPut:
		err = b.Put(op.Key, op.Value)
	case replicate.OpPutFile:
		err = b.Put(op.Key, fileRecord(op.Value))
	case replicate.OpDelete, replicate.OpDeleteFile:
		if !op.HadOld {
			return replicate.Op{}, nil
		}
		err = b.Delete(op.Key)
	default:
		err = fmt.Errorf("unknown operation %d", op.Kind)
	}
	if err != nil {
		return replicate.Op{}, fmt.Errorf("apply %q: %w", op.Key, err)
	}
	return op, nil
}

// undoOp restores op's before-image.
func undoOp(tx *bolt.Tx, op replicate.Op) error {
	b := tx.Bucket(bucketKV)
	files := op.Kind == replicate.OpPutFile || op.Kind == replicate.OpDeleteFile
	if files {
		b = tx.Bucket(bucketFiles)
	}
	if !op.HadOld {
		return b.Delete(op.Key)
	}
	if files {
		return b.Put(op.Key, fileRecord(op.Old))
	}
	return b.Put(op.Key, op.Old)
}

// fileRecord is a stored file: its SHA-256, then its bytes.
func fileRecord(data []byte) []byte {
	sum := sha256.Sum256(data)
	return append(sum[:], data...)
}

func validFileName(name string) error {
	if name == "" || !filepath.IsLocal(name) {
		return fmt.Errorf("file name %q: must be a relative path inside the file area", name)
	}
	return nil
}

// Update runs fn in a transaction and commits it durably, then (outside
// the write lock, so that commits pipeline) waits as the replication
// protection mode says. The entry goes to the replicator just before the
// local commit, so that both nodes' disks work at once. It returns the
// transaction's sequence number (0 when fn changed nothing). An error from
// fn rolls everything back.
func (d *DB) Update(ctx context.Context, fn func(*Txn) error) (uint64, error) {
	start := time.Now()
	seq, err := d.update(ctx, fn)
	if err == nil && seq != 0 && d.onCommit != nil {
		d.onCommit(time.Since(start))
	}
	return seq, err
}

func (d *DB) update(ctx context.Context, fn func(*Txn) error) (uint64, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	d.writeMu.Lock()
	repl := d.repl
	if repl != nil {
		if err := repl.Admit(ctx); err != nil {
			d.writeMu.Unlock()
			return 0, err
		}
	}
	var seq uint64
	shipped := false
	err := d.db.Update(func(tx *bolt.Tx) error {
		t := &Txn{tx: tx}
		if err := fn(t); err != nil {
			return err
		}
		if len(t.ops) == 0 {
			return nil
		}
		m := readMeta(tx)
		seq = m.last + 1
		frame := replicate.Entry{Seq: seq, Epoch: m.epoch, Ops: t.ops}.Frame()
		if err := storeEntry(tx, m, seq, m.epoch, frame, d.retain); err != nil {
			return err
		}
		// The last step before bbolt's commit (and its fsyncs).
		if repl != nil {
			repl.Ship(seq, frame)
			shipped = true
		}
		return nil
	})
	if err != nil && shipped {
		repl.Abandon(seq)
	}
	d.writeMu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("instance transaction: %w", err)
	}
	if seq == 0 || repl == nil {
		return seq, nil
	}
	return seq, repl.Committed(ctx, seq)
}

// meta is the log position stored in the meta bucket.
type meta struct {
	last, first, epoch uint64
	history            []replicate.EpochStart
}

func readMeta(tx *bolt.Tx) meta {
	b := tx.Bucket(bucketMeta)
	m := meta{last: u64(b.Get(metaLast)), first: u64(b.Get(metaFirst)), epoch: u64(b.Get(metaEpoch))}
	if m.first == 0 {
		m.first = 1
	}
	if h := b.Get(metaHistory); h != nil {
		// Written by writeMeta only; a decode failure means corruption,
		// which bbolt's own checks would have caught first.
		if hist, err := replicate.DecodeHistory(h); err == nil {
			m.history = hist
		}
	}
	return m
}

func writeMeta(tx *bolt.Tx, m meta) error {
	b := tx.Bucket(bucketMeta)
	return errors.Join(
		b.Put(metaLast, binary.BigEndian.AppendUint64(nil, m.last)),
		b.Put(metaFirst, binary.BigEndian.AppendUint64(nil, m.first)),
		b.Put(metaEpoch, binary.BigEndian.AppendUint64(nil, m.epoch)),
		b.Put(metaHistory, replicate.EncodeHistory(m.history)),
	)
}

func u64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// appendEntry stores e (already applied) in the log, advances the meta and
// drops log entries beyond the retention.
func appendEntry(tx *bolt.Tx, m meta, e replicate.Entry, retain uint64) error {
	return storeEntry(tx, m, e.Seq, e.Epoch, e.Frame(), retain)
}

// storeEntry is appendEntry for an entry already framed.
func storeEntry(tx *bolt.Tx, m meta, seq, epoch uint64, frame []byte, retain uint64) error {
	lb := tx.Bucket(bucketLog)
	if err := lb.Put(seqKey(seq), frame); err != nil {
		return fmt.Errorf("append log entry %d: %w", seq, err)
	}
	m.last = seq
	m.history = replicate.Extend(m.history, seq, epoch)
	if epoch > m.epoch {
		m.epoch = epoch
	}
	for m.last-m.first+1 > retain {
		if err := lb.Delete(seqKey(m.first)); err != nil {
			return fmt.Errorf("trim log: %w", err)
		}
		m.first++
	}
	return writeMeta(tx, m)
}

// Get reads a key.
func (d *DB) Get(key []byte) ([]byte, error) {
	var v []byte
	err := d.view(func(tx *bolt.Tx) error {
		v = bytes.Clone(tx.Bucket(bucketKV).Get(key))
		return nil
	})
	if err == nil && v == nil {
		err = ErrNotFound
	}
	return v, err
}

// KV is a key and its value.
type KV struct {
	Key   []byte `json:"key"`
	Value []byte `json:"value"`
}

// Scan returns up to limit pairs whose key starts with prefix, in key order
// (limit 0: all).
func (d *DB) Scan(prefix []byte, limit int) ([]KV, error) {
	var out []KV
	err := d.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketKV).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if limit > 0 && len(out) >= limit {
				break
			}
			out = append(out, KV{Key: bytes.Clone(k), Value: bytes.Clone(v)})
		}
		return nil
	})
	return out, err
}

// GetFile reads a file of the file area and checks it against its
// SHA-256.
func (d *DB) GetFile(name string) ([]byte, error) {
	var rec []byte
	if err := d.view(func(tx *bolt.Tx) error {
		rec = bytes.Clone(tx.Bucket(bucketFiles).Get([]byte(name)))
		return nil
	}); err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, fmt.Errorf("file %q: %w", name, ErrNotFound)
	}
	if len(rec) < sha256.Size || [sha256.Size]byte(rec[:sha256.Size]) != sha256.Sum256(rec[sha256.Size:]) {
		return nil, fmt.Errorf("file %q: %w", name, ErrChecksum)
	}
	return rec[sha256.Size:], nil
}

// Digest is a SHA-256 over every key, value and file (not the log): two
// nodes holding the same data have the same digest.
func (d *DB) Digest() (string, error) {
	h := sha256.New()
	err := d.view(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketKV, bucketFiles} {
			h.Write(name)
			err := tx.Bucket(name).ForEach(func(k, v []byte) error {
				h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(k))))
				h.Write(k)
				h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(v))))
				h.Write(v)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

func (d *DB) view(fn func(*bolt.Tx) error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.db.View(fn); err != nil {
		return fmt.Errorf("read instance database: %w", err)
	}
	return nil
}

// Promote makes this node the writer in epoch: the failover epoch of its
// claim of the VIP. Entries from now on carry it, and the history records
// where it starts — the fork point the old writer is reconciled against.
// Promoting again in the same epoch changes nothing; an older epoch is
// refused. It returns the fork point: the last entry written before.
func (d *DB) Promote(epoch uint64) (fork uint64, err error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	err = d.db.Update(func(tx *bolt.Tx) error {
		m := readMeta(tx)
		fork = m.last
		switch {
		case epoch == m.epoch:
			return nil
		case epoch < m.epoch:
			return fmt.Errorf("epoch %d is older than the database's epoch %d", epoch, m.epoch)
		}
		m.epoch = epoch
		return writeMeta(tx, m)
	})
	if err != nil {
		return 0, fmt.Errorf("promote instance database: %w", err)
	}
	return fork, nil
}
