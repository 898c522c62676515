package replicate

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hafw/hafw/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// StandbyOptions configure the receiving side.
type StandbyOptions struct {
	Log Log
	// QuarantineDir receives the quarantine files of undone entries.
	QuarantineDir string
	// StallTimeout bounds the wait for the active's handshake and each
	// snapshot piece (10 s when zero).
	StallTimeout time.Duration
	// OnQuarantine is told the file and the number of entries undone
	// (hmd turns it into an event).
	OnQuarantine func(path string, entries int)
	Logger       *slog.Logger
	// Protocols are the protocol versions accepted (Speaks when zero).
	Protocols Protocols
}

// Standby receives the active's log. It refuses connections while this
// node serves the instance itself (SetServing).
type Standby struct {
	opt StandbyOptions

	mu      sync.Mutex
	serving bool
	applied uint64 // entries applied since start (tests count failback)
	refused uint64 // entries refused for a bad checksum
}

// NewStandby prepares the receiver.
func NewStandby(opt StandbyOptions) (*Standby, error) {
	if opt.Log == nil || opt.QuarantineDir == "" {
		return nil, errors.New("replicate: Standby needs a Log and a QuarantineDir")
	}
	opt.StallTimeout = orDefault(opt.StallTimeout, 10*time.Second)
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Standby{opt: opt}, nil
}

// SetServing says whether this node serves the instance; while it does,
// nobody may replicate into it.
func (s *Standby) SetServing(v bool) {
	s.mu.Lock()
	s.serving = v
	s.mu.Unlock()
}

// Incomplete reports whether a full copy into this node is unfinished: the
// database is then an older state (or empty) and must not be served.
func (s *Standby) Incomplete() bool {
	id, _ := s.partialSnapshot()
	return id != 0
}

// Counters returns the entries applied and refused since start.
func (s *Standby) Counters() (applied, refused uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied, s.refused
}

// Bounds on connections that have not authenticated yet: a stranger
// cannot hold more than maxPendingPerHost of them, and all strangers
// together no more than maxPending, so neither file descriptors nor the
// paired peer's own reconnection are theirs to exhaust.
const (
	maxPendingPerHost = 4
	maxPending        = 64
)

// ServeListener accepts connections from the active side one at a time
// until ctx ends. A connection that authenticates (its TLS handshake, with
// the pin, completes within StallTimeout) replaces the current session:
// the active reconnects after a failure and the old connection may not
// have noticed yet. One that does not authenticate changes nothing, so
// that a stranger's connect cannot end a live session.
func (s *Standby) ServeListener(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		cancel  context.CancelFunc
		turn    = make(chan struct{}, 1)
		pending = map[string]int{}
		total   int
	)
	turn <- struct{}{}
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept replication connection: %w", err)
		}
		host := remoteHost(conn)
		mu.Lock()
		if pending[host] >= maxPendingPerHost || total >= maxPending {
			mu.Unlock()
			s.opt.Logger.Debug("replication connection dropped: too many unauthenticated connections", "remote", conn.RemoteAddr())
			conn.Close()
			continue
		}
		pending[host]++
		total++
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			err := s.authenticate(ctx, conn)
			mu.Lock()
			if pending[host]--; pending[host] == 0 {
				delete(pending, host)
			}
			total--
			if err != nil {
				mu.Unlock()
				s.opt.Logger.Warn("replication connection refused", "remote", conn.RemoteAddr(), "err", err)
				return
			}
			if cancel != nil {
				cancel()
			}
			cctx, c := context.WithCancel(ctx)
			cancel = c
			mu.Unlock()
			defer c()
			context.AfterFunc(cctx, func() { conn.Close() })
			// One session at a time touches the log.
			select {
			case <-turn:
			case <-cctx.Done():
				return
			}
			defer func() { turn <- struct{}{} }()
			if err := s.Serve(cctx, conn); err != nil && cctx.Err() == nil {
				s.opt.Logger.Warn("replication session ended", "remote", conn.RemoteAddr(), "err", err)
			}
		}()
	}
}

// authenticate completes conn's TLS handshake (where the peer's pin is
// checked) within StallTimeout. A connection without a handshake (plain
// TCP, in tests that need to see the bytes) has nothing to prove.
func (s *Standby) authenticate(ctx context.Context, conn net.Conn) error {
	tc, ok := conn.(interface {
		HandshakeContext(context.Context) error
	})
	if !ok {
		return nil
	}
	hctx, cancel := context.WithTimeout(ctx, s.opt.StallTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	return nil
}

// remoteHost is the address (without port) a connection comes from.
func remoteHost(conn net.Conn) string {
	if ap, err := netip.ParseAddrPort(conn.RemoteAddr().String()); err == nil {
		return ap.Addr().String()
	}
	return conn.RemoteAddr().String()
}

// Serve handles one connection from the active side until it fails.
func (s *Standby) Serve(ctx context.Context, conn net.Conn) error {
	w := bufio.NewWriterSize(conn, 64<<10)
	r := NewReader(conn)
	reply := func(t MsgType, payload []byte) error {
		conn.SetWriteDeadline(time.Now().Add(s.opt.StallTimeout))
		if _, err := w.Write(AppendFrame(nil, t, payload)); err != nil {
			return fmt.Errorf("reply to active: %w", err)
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("reply to active: %w", err)
		}
		return nil
	}
	conn.SetReadDeadline(time.Now().Add(s.opt.StallTimeout))
	f, _, err := r.Next()
	if err != nil {
		return fmt.Errorf("read hello: %w", err)
	}
	if f.Type != MsgHello {
		return fmt.Errorf("%w: expected hello, got type %d", ErrFrame, f.Type)
	}
	hello, err := DecodeHello(f.Payload)
	if err != nil {
		return err
	}
	speaks := cmp.Or(s.opt.Protocols, Speaks)
	protocol, ok := Negotiate(hello.Protocols, speaks)
	if !ok {
		why := fmt.Sprintf("no common replication protocol: the active speaks %s, this standby %s; upgrade the older side (a rolling upgrade upgrades the secondary first)", hello.Protocols, speaks)
		reply(MsgRefuse, []byte(why))
		return errors.New(why)
	}
	s.mu.Lock()
	serving := s.serving
	s.mu.Unlock()
	if serving {
		reply(MsgRefuse, []byte("this node serves the instance itself"))
		return errors.New("refused replication: this node serves the instance")
	}
	last, _, _, hist := s.opt.Log.Position()
	sh := StandbyHello{LastSeq: last, History: hist, Protocol: protocol}
	sh.SnapID, sh.SnapOffset = s.partialSnapshot()
	// The log may no longer hold its last entry (an undo back to just
	// before the oldest kept one): the digest stays zero, "cannot tell".
	if frames, err := s.opt.Log.Frames(last, 1); err == nil && len(frames) > 0 && last > 0 {
		sh.LastDigest = sha256.Sum256(frames[0])
	}
	if err := reply(MsgStandby, EncodeStandbyHello(sh)); err != nil {
		return err
	}
	f, _, err = r.Next()
	if err != nil {
		return fmt.Errorf("read plan: %w", err)
	}
	if f.Type != MsgPlan {
		return fmt.Errorf("%w: expected plan, got type %d", ErrFrame, f.Type)
	}
	plan, err := DecodePlan(f.Payload)
	if err != nil {
		return err
	}
	switch plan.Kind {
	case PlanSnapshot:
		seq, err := s.receiveSnapshot(conn, r, plan)
		if err != nil {
			reply(MsgRefuse, []byte(err.Error()))
			return err
		}
		if err := reply(MsgAck, EncodeSeq(seq)); err != nil {
			return err
		}
	case PlanCatchUp:
		if plan.Fork < last {
			if err := s.quarantine(plan.Fork, last, hello.Epoch); err != nil {
				reply(MsgRefuse, []byte(err.Error()))
				return err
			}
		}
	}
	conn.SetReadDeadline(time.Time{})
	return s.receiveEntries(ctx, r, reply)
}

// quarantine undoes the entries after fork and keeps them in a named file.
func (s *Standby) quarantine(fork, last, activeEpoch uint64) error {
	undone, err := s.opt.Log.Undo(fork)
	if err != nil {
		return fmt.Errorf("undo entries after %d: %w", fork, err)
	}
	name := fmt.Sprintf("quarantine-%s-seq%d-%d-epoch%d.jsonl", time.Now().UTC().Format("20060102T150405Z"), fork+1, last, activeEpoch)
	path := filepath.Join(s.opt.QuarantineDir, name)
	data, err := QuarantineJSON(undone)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.opt.QuarantineDir, 0o755); err != nil {
		return fmt.Errorf("quarantine directory: %w", err)
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("write quarantine file: %w", err)
	}
	s.opt.Logger.Warn("entries the serving node never acknowledged were undone and quarantined", "file", path, "entries", len(undone), "fork", fork)
	if s.opt.OnQuarantine != nil {
		s.opt.OnQuarantine(path, len(undone))
	}
	return nil
}

// QuarantineRecord is one line of a quarantine file: an undone entry.
type QuarantineRecord struct {
	Seq   uint64           `json:"seq"`
	Epoch uint64           `json:"epoch"`
	Ops   []QuarantineOpJS `json:"ops"`
}

// QuarantineOpJS is an undone change (values as bytes, JSON base64).
type QuarantineOpJS struct {
	Kind  string `json:"kind"`
	Key   string `json:"key"`
	Value []byte `json:"value,omitempty"`
}

// QuarantineJSON renders undone entries, oldest first, one JSON object a
// line, so that an operator can read and replay them by hand.
func QuarantineJSON(undone []Entry) ([]byte, error) {
	var out []byte
	for i := len(undone) - 1; i >= 0; i-- {
		e := undone[i]
		rec := QuarantineRecord{Seq: e.Seq, Epoch: e.Epoch}
		for _, op := range e.Ops {
			kind := map[OpKind]string{OpPut: "put", OpDelete: "delete", OpPutFile: "put-file", OpDeleteFile: "delete-file"}[op.Kind]
			rec.Ops = append(rec.Ops, QuarantineOpJS{Kind: kind, Key: string(op.Key), Value: op.Value})
		}
		line, err := json.Marshal(rec)
		if err != nil {
			return nil, fmt.Errorf("encode quarantine record %d: %w", e.Seq, err)
		}
		out = append(append(out, line...), '\n')
	}
	return out, nil
}

// partialSnapshot names the snapshot being received, if any: its ID (kept
// in a side file next to it) and the bytes already held.
func (s *Standby) partialSnapshot() (id, offset uint64) {
	b, err := os.ReadFile(s.opt.Log.SnapshotPath() + ".id")
	if err != nil || len(b) != 8 {
		return 0, 0
	}
	fi, err := os.Stat(s.opt.Log.SnapshotPath())
	if err != nil {
		return 0, 0
	}
	return binary.BigEndian.Uint64(b), uint64(fi.Size())
}

// receiveSnapshot writes the chunks to SnapshotPath (resuming at
// plan.Offset), checks size and digest, and installs it.
func (s *Standby) receiveSnapshot(conn net.Conn, r *Reader, plan Plan) (uint64, error) {
	path := s.opt.Log.SnapshotPath()
	if err := checkSpace(filepath.Dir(path), plan); err != nil {
		return 0, err
	}
	flags := os.O_CREATE | os.O_RDWR
	if plan.Offset == 0 {
		flags |= os.O_TRUNC
		if err := atomicfile.Write(path+".id", binary.BigEndian.AppendUint64(nil, plan.SnapID), 0o600); err != nil {
			return 0, fmt.Errorf("record snapshot id: %w", err)
		}
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return 0, fmt.Errorf("open snapshot file: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(int64(plan.Offset)); err != nil {
		return 0, fmt.Errorf("resume snapshot: %w", err)
	}
	pos := plan.Offset
	// The digest is computed as the bytes arrive; on a resume the part
	// already held is hashed first (the only second read of it).
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, int64(pos))); err != nil {
		return 0, fmt.Errorf("resume snapshot: %w", err)
	}
	// Chunks are written (and hashed) by a second goroutine while the next
	// ones arrive; every return waits for it, so that a resumed copy
	// starts after the last byte written.
	w := newSnapFile(path, f, int64(pos), h, r)
	closed := false
	defer func() {
		if !closed {
			w.close()
		}
	}()
	for {
		conn.SetReadDeadline(time.Now().Add(s.opt.StallTimeout))
		fr, _, err := r.Next()
		if err != nil {
			return 0, fmt.Errorf("receive snapshot at byte %d: %w", pos, err)
		}
		switch fr.Type {
		case MsgSnapChunk:
			c, err := DecodeSnapChunk(fr.Payload)
			if err != nil {
				return 0, err
			}
			if c.ID != plan.SnapID || c.Offset != pos || pos+uint64(len(c.Data)) > plan.Size {
				return 0, fmt.Errorf("snapshot chunk out of place: id %x offset %d, expected %x at %d", c.ID, c.Offset, plan.SnapID, pos)
			}
			if err := w.take(r, c.Data, pos); err != nil {
				return 0, err
			}
			pos += uint64(len(c.Data))
		case MsgSnapEnd:
			end, err := DecodeSnapEnd(fr.Payload)
			if err != nil {
				return 0, err
			}
			if end.ID != plan.SnapID || end.Size != pos {
				return 0, fmt.Errorf("snapshot ends at %d bytes, received %d", end.Size, pos)
			}
			closed = true
			if err := w.close(); err != nil {
				return 0, err
			}
			if err := f.Sync(); err != nil {
				return 0, fmt.Errorf("sync snapshot: %w", err)
			}
			if [32]byte(h.Sum(nil)) != end.Digest {
				os.Remove(path)
				os.Remove(path + ".id")
				return 0, errors.New("snapshot digest mismatch: the copy is corrupt and was discarded")
			}
			f.Close()
			if err := s.opt.Log.Install(path); err != nil {
				return 0, fmt.Errorf("install snapshot: %w", err)
			}
			os.Remove(path + ".id")
			s.opt.Logger.Info("full copy installed", "bytes", pos, "seq", end.Seq)
			return end.Seq, nil
		default:
			return 0, fmt.Errorf("%w: type %d inside a snapshot", ErrFrame, fr.Type)
		}
	}
}

// maxBatch bounds the entries committed in one standby transaction.
const maxBatch = 512

// receiveEntries applies entries in order, one transaction per burst, and
// acknowledges the last one applied. A corrupt or out-of-order entry is
// refused with a Nack naming the entry wanted; later entries are ignored
// until it arrives again.
func (s *Standby) receiveEntries(ctx context.Context, r *Reader, reply func(MsgType, []byte) error) error {
	last, _, _, _ := s.opt.Log.Position()
	want := last + 1
	nacked := false
	var batch []Entry
	for ctx.Err() == nil {
		batch = batch[:0]
		for {
			f, _, err := r.Next()
			if err != nil && !errors.Is(err, ErrChecksum) {
				return fmt.Errorf("receive entries: %w", err)
			}
			var e Entry
			if err == nil && f.Type == MsgEntry {
				e, err = DecodeEntry(f.Payload)
			} else if err == nil {
				return fmt.Errorf("%w: type %d among entries", ErrFrame, f.Type)
			}
			switch {
			case err != nil:
				s.mu.Lock()
				s.refused++
				s.mu.Unlock()
				if !nacked {
					s.opt.Logger.Warn("refused a corrupt entry; asking for it again", "want", want, "err", err)
					if err := reply(MsgNack, EncodeSeq(want)); err != nil {
						return err
					}
					nacked = true
				}
			case e.Seq < want:
				// Already applied (a resend after a Nack).
			case e.Seq > want:
				if !nacked {
					if err := reply(MsgNack, EncodeSeq(want)); err != nil {
						return err
					}
					nacked = true
				}
			default:
				batch = append(batch, e)
				want++
				nacked = false
			}
			if !r.Buffered() || len(batch) >= maxBatch {
				break
			}
		}
		if len(batch) == 0 {
			continue
		}
		s.mu.Lock()
		serving := s.serving
		s.mu.Unlock()
		if serving {
			// This node started serving while the session was open: it
			// is the writer now and must not take the old writer's log.
			reply(MsgRefuse, []byte("this node serves the instance itself"))
			return errors.New("replication session ended: this node now serves the instance")
		}
		if err := s.opt.Log.Apply(batch); err != nil {
			return fmt.Errorf("apply entries %d..%d: %w", batch[0].Seq, want-1, err)
		}
		s.mu.Lock()
		s.applied += uint64(len(batch))
		s.mu.Unlock()
		s.opt.Logger.Debug("applied replicated entries", "first", batch[0].Seq, "last", want-1, "count", len(batch))
		if err := reply(MsgAck, EncodeSeq(want-1)); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// checkSpace refuses a full copy that cannot fit: the plan's size comes
// from the peer, and a copy that fills the disk would stop this node's
// own state writes long before its end.
func checkSpace(dir string, plan Plan) error {
	if plan.Offset > plan.Size {
		return fmt.Errorf("snapshot plan resumes at byte %d of %d", plan.Offset, plan.Size)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("free space for the snapshot: %w", err)
	}
	free := st.Bavail * uint64(st.Bsize)
	if need := plan.Size - plan.Offset; need > free {
		return fmt.Errorf("snapshot of %d bytes does not fit: %d bytes still to receive, %d free in %s", plan.Size, need, free, dir)
	}
	return nil
}
