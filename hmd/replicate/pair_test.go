package replicate_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/instance"
	"github.com/hafw/hafw/hmd/replicate"
	"github.com/hafw/hafw/internal/tlsid"
)

// These tests run two instance databases with real replication over TCP
// on loopback (TLS with pinned certificates unless a test needs to see the
// bytes), the way two hmd processes use them.

type node struct {
	t   testing.TB
	dir string
	db  *instance.DB
	id  tlsid.Identity
	// speaks stands in for another firmware's protocol versions (zero:
	// this build's).
	speaks replicate.Protocols
}

func newNode(t testing.TB, name string) *node {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	db, err := instance.Open(filepath.Join(dir, "instance.db"), instance.Options{Retain: 20000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	id, err := tlsid.LoadOrCreate(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return &node{t: t, dir: dir, db: db, id: id}
}

func quiet() *slog.Logger {
	if testing.Verbose() {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// standby starts n's receiver on a loopback listener and returns its
// address; it stops at test end or when stop is called.
func (n *node) standby(active *node, useTLS bool) (sb *replicate.Standby, addr string, stop func()) {
	t := n.t
	t.Helper()
	sb, err := replicate.NewStandby(replicate.StandbyOptions{Log: n.db, QuarantineDir: filepath.Join(n.dir, "quarantine"), StallTimeout: 2 * time.Second, Logger: quiet(), Protocols: n.speaks})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if useTLS {
		cfg, err := replicate.TLSConfig(n.id, active.id.Fingerprint, true)
		if err != nil {
			t.Fatal(err)
		}
		ln = tls.NewListener(ln, cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sb.ServeListener(ctx, ln)
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return sb, ln.Addr().String(), stop
}

type activeOpts struct {
	mode  replicate.Mode
	tls   *node // standby node to pin, nil for plain TCP
	wrap  func(net.Conn) net.Conn
	stall time.Duration
}

// active starts n's sender towards addr.
func (n *node) active(addr string, o activeOpts) (a *replicate.Active, stop func()) {
	t := n.t
	t.Helper()
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		if o.wrap != nil {
			c = o.wrap(c)
		}
		if o.tls != nil {
			cfg, err := replicate.TLSConfig(n.id, o.tls.id.Fingerprint, false)
			if err != nil {
				return nil, err
			}
			tc := tls.Client(c, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, err
			}
			c = tc
		}
		return c, nil
	}
	a, err := replicate.NewActive(replicate.ActiveOptions{Log: n.db, Mode: o.mode, Dial: dial,
		AckTimeout: 5 * time.Second, ProtectionWait: 300 * time.Millisecond, StallTimeout: max(o.stall, 2*time.Second),
		Retry: 50 * time.Millisecond, Logger: quiet(), Protocols: n.speaks})
	if err != nil {
		t.Fatal(err)
	}
	n.db.SetReplicator(a)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			n.db.SetReplicator(nil)
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return a, stop
}

func put(t testing.TB, db *instance.DB, key, value string) uint64 {
	t.Helper()
	seq, err := db.Update(context.Background(), func(tx *instance.Txn) error {
		return tx.Put([]byte(key), []byte(value))
	})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return seq
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitUp(t testing.TB, a *replicate.Active) {
	t.Helper()
	waitFor(t, "replication Up", func() bool { st := a.Status(); return st.State == replicate.StateUp && st.Lag == 0 })
}

func digest(t testing.TB, db *instance.DB) string {
	t.Helper()
	d, err := db.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func last(db *instance.DB) uint64 { l, _, _, _ := db.Position(); return l }

// Initial sync is a full copy plus catch-up; afterwards, in maximum
// availability, every commit has returned only once the standby holds it.
func TestInitialSyncThenSynchronousCommits(t *testing.T) {
	p, s := newNode(t, "primary"), newNode(t, "secondary")
	if _, err := p.db.Promote(2); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		put(t, p.db, fmt.Sprintf("elem/%04d", i), strings.Repeat("x", 200))
	}
	if _, err := p.db.Update(context.Background(), func(tx *instance.Txn) error {
		return tx.PutFile("maps/floor1.svg", []byte("<svg>floor</svg>"))
	}); err != nil {
		t.Fatal(err)
	}
	_, addr, _ := s.standby(p, true)
	a, _ := p.active(addr, activeOpts{mode: replicate.MaxAvailability, tls: s})
	waitUp(t, a)
	st := a.Status()
	if st.SnapshotBytes == 0 {
		t.Fatalf("initial sync without a full copy: %+v", st)
	}
	for i := range 200 {
		seq := put(t, p.db, fmt.Sprintf("live/%04d", i), "v")
		if got := last(s.db); got < seq {
			t.Fatalf("commit %d returned but the standby holds only %d", seq, got)
		}
	}
	if digest(t, p.db) != digest(t, s.db) {
		t.Fatal("digests differ after sync")
	}
	if got, err := s.db.GetFile("maps/floor1.svg"); err != nil || string(got) != "<svg>floor</svg>" {
		t.Fatalf("replicated file: %q %v", got, err)
	}
	if st := a.Status(); st.Percent != 100 || st.Lag != 0 {
		t.Fatalf("status after sync: %+v", st)
	}
}

// A standby that was away receives only the entries it misses.
func TestResyncShipsOnlyMissingEntries(t *testing.T) {
	p, s := newNode(t, "primary"), newNode(t, "secondary")
	p.db.Promote(2)
	for i := range 100 {
		put(t, p.db, fmt.Sprintf("a/%d", i), "1")
	}
	sb, addr, stopStandby := s.standby(p, true)
	a, _ := p.active(addr, activeOpts{mode: replicate.MaxAvailability, tls: s})
	waitUp(t, a)
	snapBytes := a.Status().SnapshotBytes
	stopStandby()
	for i := range 37 {
		put(t, p.db, fmt.Sprintf("b/%d", i), "2") // returns: replication degrades to Down
	}
	waitFor(t, "Down", func() bool { return a.Status().State == replicate.StateDown })
	applied0, _ := sb.Counters()
	// Same standby database, new listener on a new port: redirect the
	// active by restarting it.
	sb2, addr2, _ := s.standby(p, true)
	a.Status()
	a2, _ := p.active(addr2, activeOpts{mode: replicate.MaxAvailability, tls: s})
	waitUp(t, a2)
	applied, _ := sb2.Counters()
	if applied != 37 {
		t.Fatalf("resync applied %d entries, want 37 (before: %d)", applied, applied0)
	}
	if a2.Status().SnapshotBytes != 0 {
		t.Fatalf("resync made a full copy (%d bytes; first sync %d)", a2.Status().SnapshotBytes, snapBytes)
	}
	if digest(t, p.db) != digest(t, s.db) {
		t.Fatal("digests differ after resync")
	}
}

// Entries are shipped before the active commits them. When that commit
// never happens (a crash, or a failed commit: Abandon), the standby holds
// an entry whose sequence number the active reuses, in the same epoch, for
// something else; the next session must see it (StandbyHello's digest of
// the standby's last entry), quarantine the standby's entry and ship ours.
func TestShippedButUncommittedEntryIsQuarantined(t *testing.T) {
	p, s := newNode(t, "primary"), newNode(t, "secondary")
	p.db.Promote(2)
	put(t, p.db, "seed", "1")
	var qn atomic.Int64
	sb, err := replicate.NewStandby(replicate.StandbyOptions{Log: s.db, QuarantineDir: filepath.Join(s.dir, "quarantine"), Logger: quiet(),
		OnQuarantine: func(_ string, entries int) { qn.Store(int64(entries)) }})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sb.ServeListener(ctx, ln) }()
	defer func() { cancel(); <-done }()
	a, stopActive := p.active(ln.Addr().String(), activeOpts{mode: replicate.MaxAvailability})
	waitUp(t, a)
	stopActive()
	// What the standby got before the active's commit failed.
	seq := last(p.db) + 1
	lost := replicate.Entry{Seq: seq, Epoch: 2, Ops: []replicate.Op{{Kind: replicate.OpPut, Key: []byte("lost"), Value: []byte("never committed")}}}
	if err := s.db.Apply([]replicate.Entry{lost}); err != nil {
		t.Fatal(err)
	}
	// The active commits another transaction under the same number.
	if got := put(t, p.db, "kept", "committed"); got != seq {
		t.Fatalf("commit got seq %d, want %d", got, seq)
	}
	a, _ = p.active(ln.Addr().String(), activeOpts{mode: replicate.MaxAvailability})
	waitUp(t, a)
	if n := qn.Load(); n != 1 {
		t.Fatalf("%d entries quarantined, want the 1 never committed", n)
	}
	if _, err := s.db.Get([]byte("lost")); !errors.Is(err, instance.ErrNotFound) {
		t.Fatalf("the uncommitted entry is still applied on the standby: %v", err)
	}
	if digest(t, p.db) != digest(t, s.db) {
		t.Fatal("digests differ")
	}
}

// Abandon: the local commit of a shipped entry failed. The standby, which
// may have applied and acknowledged it, must end up without it, holding
// the entry committed under that number instead, and the acknowledgement
// of the abandoned entry must not count for its successor.
func TestAbandonedEntryIsUndoneOnTheStandby(t *testing.T) {
	p, s := newNode(t, "primary"), newNode(t, "secondary")
	p.db.Promote(2)
	put(t, p.db, "seed", "1")
	sb, addr, _ := s.standby(p, false)
	a, _ := p.active(addr, activeOpts{mode: replicate.MaxAvailability})
	waitUp(t, a)
	seq := last(p.db) + 1
	lost := replicate.Entry{Seq: seq, Epoch: 2, Ops: []replicate.Op{{Kind: replicate.OpPut, Key: []byte("lost"), Value: []byte("never committed")}}}
	a.Ship(seq, lost.Frame())
	waitFor(t, "the standby applying the shipped entry", func() bool { return last(s.db) == seq })
	a.Abandon(seq)
	if st := a.Status(); st.State != replicate.StateDown || st.AckedSeq >= seq {
		t.Fatalf("after Abandon: %+v, want Down and acknowledged below %d", st, seq)
	}
	if got := put(t, p.db, "kept", "committed"); got != seq {
		t.Fatalf("commit got seq %d, want %d", got, seq)
	}
	waitUp(t, a)
	if _, err := s.db.Get([]byte("lost")); !errors.Is(err, instance.ErrNotFound) {
		t.Fatalf("the abandoned entry is still applied on the standby: %v", err)
	}
	if v, err := s.db.Get([]byte("kept")); err != nil || string(v) != "committed" {
		t.Fatalf("standby holds %q, %v for the entry committed instead", v, err)
	}
	if applied, _ := sb.Counters(); applied < 2 {
		t.Fatalf("standby applied %d entries, want the abandoned one and its successor", applied)
	}
	if digest(t, p.db) != digest(t, s.db) {
		t.Fatal("digests differ")
	}
}

// Failback: the old primary undoes what it wrote but never got
// acknowledged, keeps it in a quarantine file, and receives only what the
// secondary wrote since the failover.
func TestFailbackMovesOnlyChangesAndQuarantines(t *testing.T) {
	p, s := newNode(t, "primary"), newNode(t, "secondary")
	p.db.Promote(2)
	for i := range 50 {
		put(t, p.db, fmt.Sprintf("k/%d", i), "base")
	}
	_, addr, stopStandby := s.standby(p, true)
	a, stopActive := p.active(addr, activeOpts{mode: replicate.MaxAvailability, tls: s})
	waitUp(t, a)
	fork := last(p.db)
	stopStandby()
	stopActive()
	// The primary writes 5 entries nobody acknowledges, then "dies".
	for i := range 5 {
		put(t, p.db, fmt.Sprintf("k/%d", i), "lost")
	}
	put(t, p.db, "only-on-old-primary", "x")
	// The secondary takes over in epoch 3 and writes N changes.
	if f, err := s.db.Promote(3); err != nil || f != fork {
		t.Fatalf("promote: fork %d (want %d), %v", f, fork, err)
	}
	const n = 23
	for i := range n {
		put(t, s.db, fmt.Sprintf("k/%d", i), "after-failover")
	}
	// Failback: the secondary ships to the recovered primary.
	var qfile string
	var qn int
	sb, err := replicate.NewStandby(replicate.StandbyOptions{Log: p.db, QuarantineDir: filepath.Join(p.dir, "quarantine"), Logger: quiet(),
		OnQuarantine: func(path string, entries int) { qfile, qn = path, entries }})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sb.ServeListener(ctx, ln)
	a2, _ := s.active(ln.Addr().String(), activeOpts{mode: replicate.MaxAvailability})
	waitUp(t, a2)
	applied, _ := sb.Counters()
	if applied != n {
		t.Fatalf("failback applied %d entries, want %d", applied, n)
	}
	if st := a2.Status(); st.EntriesShipped != n || st.SnapshotBytes != 0 {
		t.Fatalf("failback shipped %d entries and %d snapshot bytes, want %d and 0", st.EntriesShipped, st.SnapshotBytes, n)
	}
	if digest(t, p.db) != digest(t, s.db) {
		t.Fatal("digests differ after failback")
	}
	if qn != 6 {
		t.Fatalf("quarantined %d entries, want 6", qn)
	}
	data, err := os.ReadFile(qfile)
	if err != nil || bytes.Count(data, []byte("\n")) != 6 || !bytes.Contains(data, []byte("only-on-old-primary")) {
		t.Fatalf("quarantine file %s: %v\n%s", qfile, err, data)
	}
	if _, err := p.db.Get([]byte("only-on-old-primary")); !errors.Is(err, instance.ErrNotFound) {
		t.Fatalf("unacknowledged write still present after failback: %v", err)
	}
}

// corrupter flips one payload byte of the target-th entry frame the active
// side sends, below TLS, as a bad NIC or cable would.
type corrupter struct {
	net.Conn
	target  int
	pos     int64
	next    int64
	hdr     []byte
	entries int
	flipAt  int64
	flipped atomic.Bool
}

func (c *corrupter) Write(p []byte) (int, error) {
	q := bytes.Clone(p)
	for i := range q {
		abs := c.pos + int64(i)
		if abs >= c.next && abs < c.next+5 {
			c.hdr = append(c.hdr, q[i])
			if len(c.hdr) == 5 {
				n := int64(binary.BigEndian.Uint32(c.hdr[1:]))
				if replicate.MsgType(c.hdr[0]) == replicate.MsgEntry {
					c.entries++
					if c.entries == c.target {
						c.flipAt = c.next + 5 + 3
					}
				}
				c.next += 5 + n + 4
				c.hdr = c.hdr[:0]
			}
		}
		if abs == c.flipAt && !c.flipped.Load() {
			q[i] ^= 0x40
			c.flipped.Store(true)
		}
	}
	c.pos += int64(len(q))
	return c.Conn.Write(q)
}

func TestCorruptEntryOnTheWireIsRefusedAndResent(t *testing.T) {
	p, s := newNode(t, "primary"), newNode(t, "secondary")
	p.db.Promote(2)
	put(t, p.db, "seed", "1")
	sb, addr, _ := s.standby(p, false)
	var c *corrupter
	a, _ := p.active(addr, activeOpts{mode: replicate.MaxAvailability, wrap: func(conn net.Conn) net.Conn {
		if c == nil {
			c = &corrupter{Conn: conn, target: 3, flipAt: -1}
			return c
		}
		return conn
	}})
	waitUp(t, a)
	for i := range 20 {
		put(t, p.db, fmt.Sprintf("k/%d", i), "v")
	}
	if !c.flipped.Load() {
		t.Fatal("the test never corrupted an entry")
	}
	if _, refused := sb.Counters(); refused == 0 {
		t.Fatal("standby did not refuse the corrupt entry")
	}
	if a.Status().Resent == 0 {
		t.Fatal("active did not resend the refused entry")
	}
	if digest(t, p.db) != digest(t, s.db) {
		t.Fatal("digests differ: the corrupt entry got through")
	}
}

// Maximum protection: without a standby a write waits the bounded time and
// fails clearly, and nothing is written.
func TestMaxProtectionRefusesWithoutStandby(t *testing.T) {
	p := newNode(t, "primary")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nobody listens
	a, _ := p.active(addr, activeOpts{mode: replicate.MaxProtection})
	start := time.Now()
	_, err := p.db.Update(context.Background(), func(tx *instance.Txn) error { return tx.Put([]byte("k"), []byte("v")) })
	if !errors.Is(err, replicate.ErrNotProtected) {
		t.Fatalf("err = %v, want ErrNotProtected", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("refusal took %s, want the bounded wait", el)
	}
	if last(p.db) != 0 {
		t.Fatal("a refused write was committed")
	}
	if a.Status().State != replicate.StateDown {
		t.Fatalf("status %+v", a.Status())
	}
}

// Maximum performance: commits do not wait, the lag is reported, and it
// drains when the standby comes.
func TestMaxPerformanceReportsLag(t *testing.T) {
	p, s := newNode(t, "primary"), newNode(t, "secondary")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	a, stop := p.active(addr, activeOpts{mode: replicate.MaxPerformance})
	for i := range 10 {
		put(t, p.db, fmt.Sprintf("k/%d", i), "v")
	}
	if st := a.Status(); st.Lag != 10 || st.State != replicate.StateDown {
		t.Fatalf("status %+v, want Down with lag 10", st)
	}
	// In bytes and seconds too: ten entries of at least their values'
	// size, the oldest shipped before this read.
	time.Sleep(20 * time.Millisecond)
	if st := a.Status(); st.LagBytes < uint64(10*len("k/0v")) || st.LagSeconds < 0.02 {
		t.Fatalf("lag %d bytes, %.3f s; want ≥ %d bytes, ≥ 0.02 s", st.LagBytes, st.LagSeconds, 10*len("k/0v"))
	}
	stop()
	_, addr2, _ := s.standby(p, false)
	a2, _ := p.active(addr2, activeOpts{mode: replicate.MaxPerformance})
	waitUp(t, a2)
	if digest(t, p.db) != digest(t, s.db) {
		t.Fatal("digests differ")
	}
	if st := a2.Status(); st.LagBytes != 0 || st.LagSeconds != 0 {
		t.Fatalf("caught up, yet lag %d bytes, %.3f s", st.LagBytes, st.LagSeconds)
	}
}

// proxy forwards TCP and can freeze (forward nothing) or cut after a
// number of bytes, to make a sync stall or break in the middle.
type proxy struct {
	ln      net.Listener
	to      string
	frozen  atomic.Bool
	cutAt   atomic.Int64 // cut the first connection after this many bytes (0: never)
	forward atomic.Int64
	// held is set by the cut: later connections wait before reaching the
	// target until the test clears it, so that the standby finishes with
	// the bytes it got before a new session replaces the cut one.
	held atomic.Bool
}

func newProxy(t testing.TB, to string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, to: to}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			for p.held.Load() {
				time.Sleep(5 * time.Millisecond)
			}
			u, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			go p.pipe(c, u, true)
			go p.pipe(u, c, false)
		}
	}()
	return p
}

func (p *proxy) pipe(from, to net.Conn, count bool) {
	defer from.Close()
	defer to.Close()
	buf := make([]byte, 32<<10)
	for {
		for p.frozen.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		n, err := from.Read(buf)
		if n > 0 {
			if count {
				total := p.forward.Add(int64(n))
				if cut := p.cutAt.Load(); cut > 0 && total >= cut {
					p.held.Store(true)
					p.cutAt.Store(0)
					return
				}
			}
			if _, err := to.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// A stalled sync is detected, reported with the reason, and restarted.
func TestStalledSyncIsDetectedAndRestarted(t *testing.T) {
	p, s := newNode(t, "primary"), newNode(t, "secondary")
	put(t, p.db, "seed", "1")
	_, addr, _ := s.standby(p, false)
	px := newProxy(t, addr)
	a, _ := p.active(px.ln.Addr().String(), activeOpts{mode: replicate.MaxPerformance, stall: 500 * time.Millisecond})
	waitUp(t, a)
	px.frozen.Store(true)
	for i := range 50 {
		put(t, p.db, fmt.Sprintf("k/%d", i), "v")
	}
	waitFor(t, "stall reported", func() bool { return a.Status().Stalls > 0 })
	if st := a.Status(); !strings.Contains(st.Reason, "stalled") {
		t.Fatalf("reason %q does not say stalled", st.Reason)
	}
	px.frozen.Store(false)
	waitUp(t, a)
	if digest(t, p.db) != digest(t, s.db) {
		t.Fatal("digests differ after the restarted sync")
	}
}

// An initial sync cut in the middle resumes at the byte where it stopped.
func TestInterruptedFullCopyResumes(t *testing.T) {
	p, s := newNode(t, "primary"), newNode(t, "secondary")
	big := strings.Repeat("y", 4000)
	for i := range 100 {
		if _, err := p.db.Update(context.Background(), func(tx *instance.Txn) error {
			for j := range 10 {
				if err := tx.Put(fmt.Appendf(nil, "big/%d/%d", i, j), []byte(big)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	_, addr, _ := s.standby(p, false)
	px := newProxy(t, addr)
	px.cutAt.Store(3 << 20)
	a, _ := p.active(px.ln.Addr().String(), activeOpts{mode: replicate.MaxAvailability})
	// Two whole chunks passed the proxy before the cut; on a loaded
	// machine the standby may still be writing them when the active
	// reconnects, and the new session would end the old one first.
	waitFor(t, "the cut", func() bool { return px.held.Load() })
	waitFor(t, "the partial copy on the standby", func() bool {
		fi, err := os.Stat(s.db.SnapshotPath())
		return err == nil && fi.Size() >= 2<<20
	})
	px.held.Store(false)
	waitUp(t, a)
	st := a.Status()
	if st.ResumedAt == 0 {
		t.Fatalf("full copy did not resume: %+v", st)
	}
	if px.forward.Load() > int64(st.SnapshotBytes)+int64(st.SnapshotBytes)/2 {
		t.Fatalf("forwarded %d bytes for a %d-byte copy: resumed from the start?", px.forward.Load(), st.SnapshotBytes)
	}
	if digest(t, p.db) != digest(t, s.db) {
		t.Fatal("digests differ after the resumed copy")
	}
}

// A standby that starts serving (failover) takes no more entries from the
// old writer, even on a connection opened before.
func TestServingStandbyRefusesEntries(t *testing.T) {
	p, s := newNode(t, "primary"), newNode(t, "secondary")
	put(t, p.db, "seed", "1")
	sb, addr, _ := s.standby(p, false)
	a, _ := p.active(addr, activeOpts{mode: replicate.MaxPerformance})
	waitUp(t, a)
	sb.SetServing(true)
	before := last(s.db)
	put(t, p.db, "after", "2")
	waitFor(t, "replication Down", func() bool { return a.Status().State == replicate.StateDown })
	if got := last(s.db); got != before {
		t.Fatalf("serving standby applied entries: last %d, was %d", got, before)
	}
}

// An idle pair stays Up: the catch-up plan reaches the standby even when
// no entry follows it, so the standby's wait for the plan never times out
// and the connection is not dropped and remade every stall timeout
// (which flapped "Data replication" Down/Up every 10 s on a quiet
// appliance).
func TestIdlePairStaysUp(t *testing.T) {
	p, s := newNode(t, "p"), newNode(t, "s")
	_, addr, _ := s.standby(p, true)
	a, _ := p.active(addr, activeOpts{mode: replicate.MaxAvailability, tls: s})
	waitUp(t, a)
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) { // the standby's stall timeout is 2 s
		if st := a.Status(); st.State != replicate.StateUp {
			t.Fatalf("an idle pair left Up: %+v", st)
		}
	}
}

// Strangers on the LAN connect to the standby's replication port every
// 100 ms (bare TCP connects, and TLS clients with a certificate that is not
// the paired one) while a maximum-availability pair commits: no commit may
// return before the standby holds it and the session stays Up.
func TestStrangersConnectsDoNotEndTheSession(t *testing.T) {
	p, s := newNode(t, "primary"), newNode(t, "secondary")
	p.db.Promote(2)
	put(t, p.db, "seed", "1")
	_, addr, _ := s.standby(p, true)
	a, _ := p.active(addr, activeOpts{mode: replicate.MaxAvailability, tls: s})
	waitUp(t, a)
	stranger := newNode(t, "stranger")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var connects atomic.Int64
	wg.Go(func() {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: time.Second}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ctx.Err() == nil; i++ {
			c, err := d.DialContext(ctx, "tcp", addr)
			if err == nil {
				connects.Add(1)
				if i%2 == 1 {
					tc := tls.Client(c, &tls.Config{Certificates: []tls.Certificate{stranger.id.Cert}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
					tc.SetDeadline(time.Now().Add(time.Second))
					tc.Handshake()
					tc.Read(make([]byte, 1))
				}
				c.Close()
			}
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	})
	defer wg.Wait()
	defer cancel()
	deadline := time.Now().Add(4 * time.Second)
	commits := 0
	for time.Now().Before(deadline) || connects.Load() < 20 {
		seq := put(t, p.db, fmt.Sprintf("k/%d", commits), "v")
		commits++
		if got := last(s.db); got < seq {
			t.Fatalf("commit %d (of %d, after %d strangers' connects) returned but the standby holds only %d: %+v",
				seq, commits, connects.Load(), got, a.Status())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := a.Status(); st.State != replicate.StateUp {
		t.Fatalf("replication %s after %d strangers' connects: %+v", st.State, connects.Load(), st)
	}
	t.Logf("%d commits, all replicated, during %d strangers' connects", commits, connects.Load())
}

// TestProtocolNegotiation: during a rolling upgrade the two sides run
// different firmware. They replicate with the newest protocol version
// both speak, and when they share none the standby refuses with both
// ranges, which the active reports as its reason.
func TestProtocolNegotiation(t *testing.T) {
	for _, c := range []struct {
		name            string
		active, standby replicate.Protocols
		want            uint8 // 0: refused
	}{
		{"same firmware", replicate.Protocols{}, replicate.Protocols{}, replicate.ProtocolMax},
		{"newer active", replicate.Protocols{Min: 1, Max: 2}, replicate.Protocols{Min: 1, Max: 1}, 1},
		{"newer standby (the secondary is upgraded first)", replicate.Protocols{Min: 1, Max: 1}, replicate.Protocols{Min: 1, Max: 2}, 1},
		{"no common version", replicate.Protocols{Min: 1, Max: 1}, replicate.Protocols{Min: 2, Max: 3}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, s := newNode(t, "p"), newNode(t, "s")
			p.speaks, s.speaks = c.active, c.standby
			put(t, p.db, "k", "v")
			_, addr, _ := s.standby(p, false)
			a, _ := p.active(addr, activeOpts{mode: replicate.MaxAvailability})
			if c.want == 0 {
				waitFor(t, "the refusal as the reason", func() bool {
					return strings.Contains(a.Status().Reason, "no common replication protocol: the active speaks version 1, this standby versions 2–3")
				})
				if st := a.Status(); st.State == replicate.StateUp || last(s.db) != 0 {
					t.Fatalf("replicated without a common protocol: %+v, standby holds %d", st, last(s.db))
				}
				return
			}
			waitUp(t, a)
			if st := a.Status(); st.Protocol != c.want {
				t.Fatalf("protocol %d, want %d", st.Protocol, c.want)
			}
			if digest(t, p.db) != digest(t, s.db) {
				t.Fatal("the standby's copy differs")
			}
		})
	}
}
