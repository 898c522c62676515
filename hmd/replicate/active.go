package replicate

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ActiveOptions configure the active side.
type ActiveOptions struct {
	Log  Log
	Mode Mode
	// Dial opens the (TLS) connection to the standby.
	Dial func(ctx context.Context) (net.Conn, error)
	// AckTimeout is how long a commit in maximum availability waits for
	// the standby before replication is marked Down (1 s when zero).
	AckTimeout time.Duration
	// ProtectionWait bounds the wait of a commit in maximum protection
	// (5 s when zero).
	ProtectionWait time.Duration
	// StallTimeout: a sync that makes no progress this long is reported
	// as stalled and restarted where it stopped (10 s when zero).
	StallTimeout time.Duration
	// Retry is the pause between connection attempts (500 ms when zero).
	Retry time.Duration
	// OnStatus is called (from Active's goroutines, never under a lock)
	// when State or Percent change.
	OnStatus func(Status)
	Logger   *slog.Logger
	// Protocols are the protocol versions offered (Speaks when zero; tests
	// stand in for other firmware with it).
	Protocols Protocols
}

// Active is the replication sender of the node that serves the instance.
// The instance database calls Admit before and Committed after each
// transaction; Run keeps a connection to the standby.
type Active struct {
	opt ActiveOptions

	mu      sync.Mutex
	st      Status
	lag     lagWindow     // entries shipped, not yet acknowledged
	ackedCh chan struct{} // closed and replaced when acked or state change
	resend  uint64        // 0 or the seq the standby asked for again
	lastAck time.Time
	cancel  context.CancelFunc // of the current session
	snap    *heldSnapshot
	// early is the entry of the transaction being committed, handed over
	// by Ship before it is durable here.
	early earlyEntry
	// gen counts abandoned transactions: an acknowledgement read by a
	// session that began before the last one does not count.
	gen uint64

	notify chan struct{}
}

// earlyEntry is an entry shipped before its local commit.
type earlyEntry struct {
	seq   uint64
	frame []byte
}

// heldSnapshot is kept across connections so that an interrupted initial
// sync resumes at the byte where it stopped instead of starting over.
type heldSnapshot struct {
	id   uint64
	snap Snapshot
}

// NewActive prepares the sender; nothing is sent before Run.
func NewActive(opt ActiveOptions) (*Active, error) {
	if opt.Log == nil || opt.Dial == nil {
		return nil, errors.New("replicate: Active needs a Log and a Dial function")
	}
	mode, err := ParseMode(string(opt.Mode))
	if err != nil {
		return nil, err
	}
	opt.Mode = mode
	opt.AckTimeout = orDefault(opt.AckTimeout, time.Second)
	opt.ProtectionWait = orDefault(opt.ProtectionWait, 5*time.Second)
	opt.StallTimeout = orDefault(opt.StallTimeout, 10*time.Second)
	opt.Retry = orDefault(opt.Retry, 500*time.Millisecond)
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	last, _, _, _ := opt.Log.Position()
	a := &Active{opt: opt, ackedCh: make(chan struct{}), notify: make(chan struct{}, 1)}
	a.st = Status{State: StateDown, Mode: mode, LastSeq: last, Lag: last, Reason: "not connected yet"}
	return a, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Status returns the current replication status.
func (a *Active) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.st
	bytes, age := a.lag.read(time.Now())
	st.LagBytes, st.LagSeconds = bytes, age.Seconds()
	return st
}

// Admit is called before a transaction: in maximum protection it waits up
// to ProtectionWait for the standby to be Up and refuses otherwise, so that
// nothing is written that cannot be replicated.
func (a *Active) Admit(ctx context.Context) error {
	if a.opt.Mode != MaxProtection {
		return nil
	}
	return a.wait(ctx, a.opt.ProtectionWait, func(st Status) bool { return st.State == StateUp })
}

// Ship is called with a transaction's entry just before its local commit,
// so that the standby makes it durable while this disk does: a synchronous
// commit then waits for the slower of the two instead of one after the
// other. Nothing is acknowledged before Committed. Should the local commit
// fail, Abandon makes the standby drop the entry.
func (a *Active) Ship(seq uint64, frame []byte) {
	a.mu.Lock()
	a.early = earlyEntry{seq: seq, frame: frame}
	a.lag.add(seq, time.Now(), len(frame))
	a.mu.Unlock()
	a.poke()
}

// Abandon is called when the local commit of an entry given to Ship
// failed: the next transaction reuses its sequence number. The session is
// ended and acknowledgements it still reads are ignored; the next session
// sees that the standby's last entry differs from ours (StandbyHello's
// digest), so the standby undoes it into the quarantine file.
func (a *Active) Abandon(seq uint64) {
	a.mu.Lock()
	a.early = earlyEntry{}
	a.gen++
	a.st.AckedSeq = min(a.st.AckedSeq, seq-1)
	a.lag.abandon(seq)
	a.mu.Unlock()
	a.drop(fmt.Sprintf("entry %d failed to commit here after it was shipped", seq))
}

// poke wakes the sending goroutine.
func (a *Active) poke() {
	select {
	case a.notify <- struct{}{}:
	default:
	}
}

// Committed is called after transaction seq is durable locally; it returns
// when the mode allows the service to be told "committed".
func (a *Active) Committed(ctx context.Context, seq uint64) error {
	a.mu.Lock()
	if seq > a.st.LastSeq {
		a.st.LastSeq = seq
		a.st.Lag = a.st.LastSeq - a.st.AckedSeq
	}
	a.mu.Unlock()
	a.poke()
	switch a.opt.Mode {
	case MaxPerformance:
		return nil
	case MaxProtection:
		err := a.wait(ctx, a.opt.ProtectionWait, func(st Status) bool { return st.AckedSeq >= seq })
		if errors.Is(err, ErrNotProtected) {
			// Drop the session: later writes are refused by Admit before
			// anything is written, until the standby is back and Up.
			a.drop(fmt.Sprintf("standby did not acknowledge entry %d within %s", seq, a.opt.ProtectionWait))
		}
		if err != nil {
			return fmt.Errorf("commit %d is durable here but not confirmed by the standby: %w", seq, err)
		}
		return nil
	}
	// Maximum availability: wait while the standby is Up.
	err := a.wait(ctx, a.opt.AckTimeout, func(st Status) bool { return st.AckedSeq >= seq || st.State != StateUp })
	if errors.Is(err, ErrNotProtected) {
		a.drop(fmt.Sprintf("standby did not acknowledge entry %d within %s", seq, a.opt.AckTimeout))
		return nil
	}
	return err
}

// wait blocks until ok(status) holds, ctx ends (its error) or limit passes
// (ErrNotProtected).
func (a *Active) wait(ctx context.Context, limit time.Duration, ok func(Status) bool) error {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		a.mu.Lock()
		st, ch := a.st, a.ackedCh
		a.mu.Unlock()
		if ok(st) {
			return nil
		}
		select {
		case <-ch:
		case <-timer.C:
			return ErrNotProtected
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// update changes the status under the lock, wakes waiters, and reports a
// changed State or Percent.
func (a *Active) update(f func(st *Status)) {
	a.mu.Lock()
	before := a.st
	f(&a.st)
	a.st.Lag = a.st.LastSeq - min(a.st.AckedSeq, a.st.LastSeq)
	a.lag.ack(a.st.AckedSeq)
	after := a.st
	close(a.ackedCh)
	a.ackedCh = make(chan struct{})
	a.mu.Unlock()
	if (before.State != after.State || before.Percent != after.Percent) && a.opt.OnStatus != nil {
		a.opt.OnStatus(after)
	}
}

// drop ends the current session, marking replication Down with reason.
func (a *Active) drop(reason string) {
	a.mu.Lock()
	cancel := a.cancel
	a.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	a.update(func(st *Status) {
		if st.State != StateDown {
			st.State, st.Reason = StateDown, reason
		}
	})
}

// Run connects to the standby and ships until ctx ends, reconnecting after
// every failure (a lost standby is resynced with only what it misses).
func (a *Active) Run(ctx context.Context) {
	defer a.releaseSnapshot()
	for ctx.Err() == nil {
		err := a.connect(ctx)
		if ctx.Err() != nil {
			break
		}
		a.opt.Logger.Warn("replication connection ended", "err", err)
		a.update(func(st *Status) {
			st.State, st.Reason = StateDown, err.Error()
			if errors.Is(err, errStalled) {
				st.Stalls++
			}
		})
		select {
		case <-ctx.Done():
		case <-time.After(a.opt.Retry):
		}
	}
	a.update(func(st *Status) { st.State, st.Reason = StateDown, "replication stopped" })
}

var errStalled = errors.New("sync stalled")

func (a *Active) connect(ctx context.Context) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conn, err := a.opt.Dial(sctx)
	if err != nil {
		return fmt.Errorf("connect to standby: %w", err)
	}
	defer conn.Close()
	a.mu.Lock()
	a.cancel = cancel
	a.mu.Unlock()
	stop := context.AfterFunc(sctx, func() { conn.Close() })
	defer stop()
	err = a.session(sctx, conn)
	if ctx.Err() == nil && sctx.Err() != nil {
		a.mu.Lock()
		reason := a.st.Reason
		a.mu.Unlock()
		return fmt.Errorf("session dropped: %s", reason)
	}
	return err
}

// session is one connection: handshake, plan, snapshot if needed, then
// streaming of entries until an error.
func (a *Active) session(ctx context.Context, conn net.Conn) error {
	a.mu.Lock()
	gen := a.gen
	a.mu.Unlock()
	s := &sender{a: a, gen: gen, conn: conn, w: bufio.NewWriterSize(conn, 256<<10), r: NewReader(conn)}
	last, first, epoch, hist := a.opt.Log.Position()
	speaks := cmp.Or(a.opt.Protocols, Speaks)
	if err := s.send(MsgHello, EncodeHello(Hello{Epoch: epoch, LastSeq: last, FirstSeq: first, History: hist, Protocols: speaks})); err != nil {
		return err
	}
	if err := s.flush(); err != nil {
		return err
	}
	conn.SetReadDeadline(time.Now().Add(a.opt.StallTimeout))
	f, _, err := s.r.Next()
	if err != nil {
		return fmt.Errorf("read standby hello: %w", err)
	}
	if f.Type == MsgRefuse {
		return fmt.Errorf("standby refused: %s", f.Payload)
	}
	if f.Type != MsgStandby {
		return fmt.Errorf("%w: expected standby hello, got type %d", ErrFrame, f.Type)
	}
	sh, err := DecodeStandbyHello(f.Payload)
	if err != nil {
		return err
	}
	if sh.Protocol < speaks.Min || sh.Protocol > speaks.Max {
		return fmt.Errorf("the standby chose replication protocol version %d, which this active (%s) does not speak", sh.Protocol, speaks)
	}
	a.update(func(st *Status) { st.Protocol = sh.Protocol })
	fork := ForkPoint(hist, last, sh.History, sh.LastSeq)
	if fork == sh.LastSeq && fork > 0 && !a.holdsEntry(fork, sh.LastDigest) {
		// The standby's last entry is one shipped before its commit
		// here, which failed or never happened (Abandon, or a crash
		// before it); this log reused the sequence number since.
		fork--
	}
	a.update(func(st *Status) {
		st.State, st.Reason, st.Percent, st.AckedSeq = StateSettingUp, "", 0, fork
	})
	from := fork + 1
	if (fork+1 < first && fork < last) || (sh.LastSeq == 0 && last > 0) {
		seq, err := s.snapshot(ctx, sh)
		if err != nil {
			return err
		}
		from = seq + 1
	} else {
		a.opt.Logger.Info("replication catch-up", "standby_last", sh.LastSeq, "fork", fork, "last", last)
		if err := s.send(MsgPlan, EncodePlan(Plan{Kind: PlanCatchUp, Fork: fork})); err != nil {
			return err
		}
		// Now, not with the first entry: on an idle pair none may come
		// before the standby's wait for the plan runs out.
		if err := s.flush(); err != nil {
			return err
		}
	}
	conn.SetReadDeadline(time.Time{})
	return s.stream(ctx, from)
}

// holdsEntry says whether this log's entry seq has the given digest, or
// cannot tell (the standby sent no digest, or the entry is no longer kept
// here and a full copy follows anyway).
func (a *Active) holdsEntry(seq uint64, digest [32]byte) bool {
	if digest == ([32]byte{}) {
		return true
	}
	frames, err := a.opt.Log.Frames(seq, 1)
	if err != nil || len(frames) == 0 {
		return true
	}
	return sha256.Sum256(frames[0]) == digest
}

// sender is the state of one session.
type sender struct {
	a    *Active
	gen  uint64 // Active.gen when the session began
	conn net.Conn
	w    *bufio.Writer
	r    *Reader
	buf  []byte
	// shipped is the newest entry written to this connection: the
	// standby cannot acknowledge, or ask again for, anything beyond it.
	shipped atomic.Uint64
}

func (s *sender) send(t MsgType, payload []byte) error {
	s.buf = AppendFrame(s.buf[:0], t, payload)
	return s.write(s.buf)
}

func (s *sender) write(frame []byte) error {
	s.conn.SetWriteDeadline(time.Now().Add(s.a.opt.StallTimeout))
	if _, err := s.w.Write(frame); err != nil {
		return s.writeErr(err)
	}
	return nil
}

func (s *sender) flush() error {
	s.conn.SetWriteDeadline(time.Now().Add(s.a.opt.StallTimeout))
	if err := s.w.Flush(); err != nil {
		return s.writeErr(err)
	}
	return nil
}

func (s *sender) writeErr(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		st := s.a.Status()
		return fmt.Errorf("%w at %d%%: the standby took nothing for %s: %w", errStalled, st.Percent, s.a.opt.StallTimeout, err)
	}
	return fmt.Errorf("send to standby: %w", err)
}

// snapshot sends a full copy (resuming the held one if the standby has a
// part of it) and returns the sequence number it contains up to.
func (s *sender) snapshot(ctx context.Context, sh StandbyHello) (uint64, error) {
	a := s.a
	a.mu.Lock()
	held := a.snap
	a.mu.Unlock()
	offset := uint64(0)
	if held != nil && held.id == sh.SnapID && sh.SnapOffset <= uint64(held.snap.Size()) {
		offset = sh.SnapOffset
	} else {
		a.releaseSnapshot()
		snap, err := a.opt.Log.Snapshot()
		if err != nil {
			return 0, fmt.Errorf("open snapshot: %w", err)
		}
		var idb [8]byte
		if _, err := rand.Read(idb[:]); err != nil {
			snap.Close()
			return 0, fmt.Errorf("snapshot id: %w", err)
		}
		held = &heldSnapshot{id: binary.BigEndian.Uint64(idb[:]) | 1, snap: snap}
		a.mu.Lock()
		a.snap = held
		a.mu.Unlock()
	}
	size := uint64(held.snap.Size())
	a.update(func(st *Status) { st.ResumedAt = offset })
	a.opt.Logger.Info("replication full copy", "bytes", size, "resume_at", offset, "seq", held.snap.Seq())
	if err := s.send(MsgPlan, EncodePlan(Plan{Kind: PlanSnapshot, SnapID: held.id, Size: size, Offset: offset})); err != nil {
		return 0, err
	}
	h := sha256.New()
	st := newSnapStream(s, held.id, offset, size, h)
	_, err := held.snap.WriteTo(st)
	if err == nil {
		err = st.flush()
	}
	if cerr := st.send.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("send snapshot: %w", err)
	}
	if st.pos != size {
		return 0, fmt.Errorf("snapshot wrote %d bytes, announced %d", st.pos, size)
	}
	end := SnapEnd{ID: held.id, Size: size, Seq: held.snap.Seq()}
	copy(end.Digest[:], h.Sum(nil))
	if err := s.send(MsgSnapEnd, EncodeSnapEnd(end)); err != nil {
		return 0, err
	}
	if err := s.flush(); err != nil {
		return 0, err
	}
	// Installing means an fsync of the whole copy: allow for it.
	s.conn.SetReadDeadline(time.Now().Add(a.opt.StallTimeout + time.Duration(size>>20)*50*time.Millisecond))
	f, _, err := s.r.Next()
	if err != nil {
		return 0, fmt.Errorf("wait for snapshot install: %w", err)
	}
	if f.Type == MsgRefuse {
		return 0, fmt.Errorf("standby refused the snapshot: %s", f.Payload)
	}
	seq, err := DecodeSeq(f.Payload)
	if f.Type != MsgAck || err != nil || seq != end.Seq {
		return 0, fmt.Errorf("%w: expected ack of snapshot %d (type %d)", ErrFrame, end.Seq, f.Type)
	}
	a.releaseSnapshot()
	a.update(func(st *Status) { st.AckedSeq, st.SnapshotBytes = seq, size })
	return seq, nil
}

func (a *Active) releaseSnapshot() {
	a.mu.Lock()
	held := a.snap
	a.snap = nil
	a.mu.Unlock()
	if held != nil {
		held.snap.Close()
	}
}

// stream ships entries from seq `from` on and reads acknowledgements until
// the connection fails.
func (s *sender) stream(ctx context.Context, from uint64) error {
	a := s.a
	s.shipped.Store(from - 1)
	errc := make(chan error, 1)
	go func() { errc <- s.readAcks(from) }()
	a.mu.Lock()
	a.lastAck = time.Now()
	target := max(a.st.LastSeq, from-1)
	a.mu.Unlock()
	a.settle(s.gen, from-1, target, from-1)
	next := from
	check := time.NewTicker(a.opt.StallTimeout / 4)
	defer check.Stop()
	for {
		a.mu.Lock()
		last, early := a.st.LastSeq, a.early
		if a.resend != 0 {
			next, a.resend = a.resend, 0
		}
		a.mu.Unlock()
		if next <= last || next == early.seq {
			frames := [][]byte{early.frame}
			if next != early.seq {
				var err error
				if frames, err = a.opt.Log.Frames(next, 512); err != nil {
					return fmt.Errorf("read log from %d: %w", next, err)
				}
			}
			if len(frames) == 0 {
				return fmt.Errorf("log ends before entry %d of %d", next, last)
			}
			for _, fr := range frames {
				if _, err := ParseFrame(fr); err != nil {
					return fmt.Errorf("entry %d in the local log: %w", next, err)
				}
				// Before the write: a full buffer goes out inside it, and
				// the standby's answer may come back at once.
				s.shipped.Store(max(s.shipped.Load(), next))
				if err := s.write(fr); err != nil {
					return err
				}
				next++
			}
			a.update(func(st *Status) { st.EntriesShipped += uint64(len(frames)) })
			if next > max(last, early.seq) {
				if err := s.flush(); err != nil {
					return err
				}
			}
			continue
		}
		select {
		case <-a.notify:
		case err := <-errc:
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-check.C:
			a.mu.Lock()
			pending := a.st.AckedSeq < a.st.LastSeq && next > a.st.AckedSeq+1
			idle := time.Since(a.lastAck)
			acked, pct := a.st.AckedSeq, a.st.Percent
			a.mu.Unlock()
			if pending && idle > a.opt.StallTimeout {
				return fmt.Errorf("%w at %d%%: no acknowledgement after entry %d for %s", errStalled, pct, acked, idle.Round(time.Millisecond))
			}
		}
	}
}

// readAcks handles the standby's Ack and Nack frames.
func (s *sender) readAcks(from uint64) error {
	a := s.a
	start := from - 1
	a.mu.Lock()
	target := a.st.LastSeq
	a.mu.Unlock()
	for {
		f, _, err := s.r.Next()
		if err != nil {
			return fmt.Errorf("read from standby: %w", err)
		}
		switch f.Type {
		case MsgAck:
			seq, err := DecodeSeq(f.Payload)
			if err != nil {
				return err
			}
			if shipped := s.shipped.Load(); seq > shipped {
				// A false acknowledgement would confirm commits the
				// standby never held: the session is not to be trusted.
				return fmt.Errorf("%w: the standby acknowledged entry %d, only %d was sent", ErrFrame, seq, shipped)
			}
			a.mu.Lock()
			a.lastAck = time.Now()
			a.mu.Unlock()
			target = a.settle(s.gen, start, target, seq)
		case MsgNack:
			seq, err := DecodeSeq(f.Payload)
			if err != nil {
				return err
			}
			if shipped := s.shipped.Load(); seq < from || seq > shipped {
				return fmt.Errorf("%w: the standby asked again for entry %d, sent were %d..%d", ErrFrame, seq, from, shipped)
			}
			a.opt.Logger.Warn("standby refused an entry; sending it again", "seq", seq)
			a.mu.Lock()
			a.resend = seq
			a.mu.Unlock()
			a.update(func(st *Status) { st.Resent++ })
			select {
			case a.notify <- struct{}{}:
			default:
			}
		case MsgRefuse:
			return fmt.Errorf("standby refused: %s", f.Payload)
		default:
			return fmt.Errorf("%w: unexpected type %d from standby", ErrFrame, f.Type)
		}
	}
}

// settle records acknowledgement up to seq and moves Setting up → Up once
// the standby holds everything committed here. Catch-up progress is
// measured against target, the last entry when catch-up began; it returns
// the target to use next. Acknowledgements read by a session that began
// before an Abandon (gen) change nothing.
func (a *Active) settle(gen, start, target, seq uint64) uint64 {
	a.update(func(st *Status) {
		if a.gen != gen {
			return // a transaction was abandoned since the session began
		}
		st.AckedSeq = max(st.AckedSeq, seq)
		switch {
		case st.State == StateDown:
		case st.AckedSeq >= st.LastSeq:
			st.State, st.Percent, st.Reason = StateUp, 100, ""
		case st.State == StateSettingUp && target > start:
			st.Percent = max(st.Percent, min(99, int((st.AckedSeq-start)*100/(target-start))))
		}
	})
	return target
}
