package heartbeat

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/ha"
)

// relay is a UDP hop between two monitors on one path, so that a test can
// silence the path, lose packets at random or capture them — all on
// loopback, without root.
type relay struct {
	conn   *net.UDPConn
	a, b   netip.AddrPort
	drop   atomic.Bool
	lossPc atomic.Int32
	// old drops every message in wire format 3, as a peer on firmware
	// that reads only version 2 does, and lets the peer send none.
	old  atomic.Bool
	mu   sync.Mutex
	last []byte   // last packet from a to b
	all  [][]byte // every packet from a to b (while keep is set)
	keep atomic.Bool
}

func newRelay(t *testing.T, at netip.Addr) *relay {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(at, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &relay{conn: c}
}

func (r *relay) addr() netip.AddrPort { return r.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (r *relay) run() {
	buf := make([]byte, 2048)
	for {
		n, from, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if r.drop.Load() || rand.IntN(100) < int(r.lossPc.Load()) || (r.old.Load() && n > 2 && buf[2] == 3) {
			continue
		}
		to := r.b
		if from == r.b {
			to = r.a
		} else {
			r.mu.Lock()
			r.last = append(r.last[:0], buf[:n]...)
			if r.keep.Load() {
				r.all = append(r.all, bytes.Clone(buf[:n]))
			}
			r.mu.Unlock()
		}
		r.conn.WriteToUDPAddrPort(buf[:n], to)
	}
}

func (r *relay) captured() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.last...)
}

// freePort reserves a UDP port on addr for a monitor to bind.
func freePort(t *testing.T, addr string) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr+":0")))
	if err != nil {
		t.Fatal(err)
	}
	ap := c.LocalAddr().(*net.UDPAddr).AddrPort()
	c.Close()
	return ap
}

type side struct {
	m      *Monitor
	events chan Event
	cancel context.CancelFunc
	done   chan struct{}
}

func (s *side) stop() {
	s.cancel()
	<-s.done
}

// waitEvent returns the first event satisfying ok within d.
func (s *side) waitEvent(t *testing.T, d time.Duration, ok func(ha.Event) bool) ha.Event {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case e := <-s.events:
			if ok(e.Event) {
				return e.Event
			}
		case <-deadline:
			t.Fatalf("no expected event within %s", d)
			return nil
		}
	}
}

func isDown(e ha.Event) bool { _, ok := e.(ha.PeerDown); return ok }

func isSuspect(e ha.Event) bool { _, ok := e.(ha.PeerSuspect); return ok }

func isHeartbeat(st ha.State) func(ha.Event) bool {
	return func(e ha.Event) bool { hb, ok := e.(ha.Heartbeat); return ok && hb.State == st }
}

// pair builds two monitors A (127.0.0.1, 127.0.0.2) and B (127.0.0.3,
// 127.0.0.4) joined by a relay on each of the paths "hm" and "dc".
type testPair struct {
	a, b   *side
	relays map[string]*relay
	cfgB   Config
}

func startSide(t *testing.T, cfg Config) *side {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &side{m: m, events: make(chan Event, 1024), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		m.Run(ctx, s.events)
	}()
	t.Cleanup(s.stop)
	return s
}

func newTestPair(t *testing.T, interval, wait time.Duration, prepare ...func(*testPair)) *testPair {
	t.Helper()
	secret := []byte("pairing password")
	p := &testPair{relays: map[string]*relay{}}
	locA := map[string]netip.AddrPort{"hm": freePort(t, "127.0.0.1"), "dc": freePort(t, "127.0.0.2")}
	locB := map[string]netip.AddrPort{"hm": freePort(t, "127.0.0.3"), "dc": freePort(t, "127.0.0.4")}
	remA, remB := map[string]netip.AddrPort{}, map[string]netip.AddrPort{}
	for _, path := range []string{"hm", "dc"} {
		r := newRelay(t, netip.MustParseAddr("127.0.0.5"))
		r.a, r.b = locA[path], locB[path]
		go r.run()
		p.relays[path] = r
		remA[path], remB[path] = r.addr(), r.addr()
	}
	paths := func(loc map[string]netip.AddrPort) []Path {
		return []Path{{Name: "hm", Local: loc["hm"]}, {Name: "dc", Local: loc["dc"]}}
	}
	cfgA := Config{Node: "A", Firmware: "1.0", Paths: paths(locA), Interval: interval, FailoverWait: wait,
		Peers: []Peer{{Pair: "pair-1", Node: "B", Secret: secret, Remotes: remA}}}
	p.cfgB = Config{Node: "B", Firmware: "1.1", Paths: paths(locB), Interval: interval, FailoverWait: wait,
		Peers: []Peer{{Pair: "pair-1", Node: "A", Secret: secret, Remotes: remB}}}
	for _, f := range prepare {
		f(p)
	}
	p.a = startSide(t, cfgA)
	p.b = startSide(t, p.cfgB)
	p.a.m.SetLocal("pair-1", Local{State: ha.PrimaryActive, HoldsVIP: true})
	p.b.m.SetLocal("pair-1", Local{State: ha.SecondaryActive})
	return p
}

func TestMonitorUpRTTAndStateChange(t *testing.T) {
	// A long interval: the state change below must travel by SendNow.
	p := newTestPair(t, 2*time.Second, 5*time.Second)
	hb := p.b.waitEvent(t, 5*time.Second, isHeartbeat(ha.PrimaryActive)).(ha.Heartbeat)
	if !hb.HoldsVIP {
		t.Fatalf("B sees %+v", hb)
	}
	p.a.waitEvent(t, 5*time.Second, isHeartbeat(ha.SecondaryActive))
	// A's first heartbeats may predate B's socket: wait for an echo.
	var st PeerStatus
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st, _ = p.a.m.Status("pair-1"); st.Paths["hm"].MeanRTT > 0 && st.Paths["dc"].MeanRTT > 0 {
			break
		}
	}
	if !st.Up || st.MeanRTT <= 0 || st.MeanRTT > 100*time.Millisecond || !st.Paths["hm"].Up || !st.Paths["dc"].Up {
		t.Fatalf("status %+v", st)
	}
	t.Logf("mean heartbeat response time over loopback+relay: %s (hm %s, dc %s)", st.MeanRTT, st.Paths["hm"].MeanRTT, st.Paths["dc"].MeanRTT)
	// A state change reaches the peer at once with SendNow, well before
	// the next interval.
	p.b.m.SetLocal("pair-1", Local{State: ha.FailoverInvoked, Epoch: 1})
	p.b.m.SendNow("pair-1")
	got := p.a.waitEvent(t, time.Second, isHeartbeat(ha.FailoverInvoked)).(ha.Heartbeat)
	if got.Epoch != 1 || got.HoldsVIP {
		t.Fatalf("A sees %+v", got)
	}
	if r := p.a.m.Rejects(); len(r) != 0 {
		t.Fatalf("rejects on a clean link: %v", r)
	}
}

func TestMonitorOnePathSilentIsNotDown(t *testing.T) {
	// Timings with room for a loaded CI machine (two CPU hogs and other
	// tests beside it stalled a 300 ms suspicion once): suspicion needs
	// 750 ms of silence on every path.
	const interval, wait = 50 * time.Millisecond, 1500 * time.Millisecond
	p := newTestPair(t, interval, wait)
	p.a.waitEvent(t, 5*time.Second, isHeartbeat(ha.SecondaryActive))
	p.relays["dc"].drop.Store(true)
	time.Sleep(2 * wait)
	st, _ := p.a.m.Status("pair-1")
	if !st.Up || st.Paths["dc"].Up || !st.Paths["hm"].Up {
		t.Fatalf("with dc silent and hm alive: %+v", st)
	}
	for len(p.a.events) > 0 {
		if e := <-p.a.events; isDown(e.Event) || isSuspect(e.Event) {
			t.Fatalf("%T while one path still carries heartbeats", e.Event)
		}
	}
	// Now the other path too: down after the wait.
	start := time.Now()
	p.relays["hm"].drop.Store(true)
	// Silence counts from the last heartbeat heard, at most one interval
	// before the cut.
	p.a.waitEvent(t, 5*time.Second, isSuspect)
	if el := time.Since(start); el < wait/2-2*interval {
		t.Errorf("suspect after %s, before half the wait", el)
	}
	p.a.waitEvent(t, 5*time.Second, isDown)
	p.b.waitEvent(t, 5*time.Second, isDown)
	if el := time.Since(start); el < wait-2*interval {
		t.Fatalf("down after %s, before the failover wait", el)
	}
	// Back up on one path: a heartbeat event again.
	p.relays["dc"].drop.Store(false)
	p.a.waitEvent(t, 5*time.Second, isHeartbeat(ha.SecondaryActive))
}

func TestMonitorLossDoesNotLookLikeFailure(t *testing.T) {
	// 40% loss on each of two paths: with a 50 ms interval and a 300 ms
	// wait a false "down" needs six lost intervals on both paths.
	p := newTestPair(t, 50*time.Millisecond, 300*time.Millisecond)
	p.a.waitEvent(t, 5*time.Second, isHeartbeat(ha.SecondaryActive))
	for _, r := range p.relays {
		r.lossPc.Store(40)
	}
	time.Sleep(3 * time.Second)
	for len(p.a.events) > 0 {
		if e := <-p.a.events; isDown(e.Event) {
			t.Fatal("false PeerDown at 40% loss")
		}
	}
}

func TestMonitorRejectsInjected(t *testing.T) {
	p := newTestPair(t, 20*time.Millisecond, 300*time.Millisecond)
	p.b.waitEvent(t, 5*time.Second, isHeartbeat(ha.PrimaryActive))
	time.Sleep(200 * time.Millisecond)    // past the exchange of challenges
	captured := p.relays["hm"].captured() // a genuine A→B heartbeat
	if len(captured) == 0 {
		t.Fatal("nothing captured")
	}
	inj, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.9:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer inj.Close()
	key, _ := DeriveKey([]byte("pairing password"), "pair-1")
	wrongKey, _ := DeriveKey([]byte("guessed password"), "pair-1")
	forged := seal(t, Message{State: ha.FailoverActive, Flags: FlagHoldsVIP, Sender: "A", Pair: "pair-1", Seq: 1 << 62, Epoch: 99, Boot: 1, Challenge: 1}, wrongKey)
	stranger := seal(t, Message{State: ha.PrimaryActive, Sender: "C", Pair: "pair-1", Seq: 1 << 62, Boot: 1, Challenge: 1}, key)
	flipped := append([]byte(nil), captured...)
	flipped[len(flipped)-macLen-1] ^= 1
	target := p.cfgB.Paths[0].Local // B's hm socket
	before, _ := p.b.m.Status("pair-1")
	for _, b := range [][]byte{captured, captured, forged, stranger, flipped, captured[:20], []byte("garbage!")} {
		if _, err := inj.WriteToUDPAddrPort(b, target); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]uint64{"replayed": 2, "forged": 2, "unknown_peer": 1, "truncated": 1, "malformed": 1}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := p.b.m.Rejects()
		match := true
		for k, n := range want {
			match = match && got[k] == n
		}
		if match {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rejects %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// None of them reached the state machine.
	time.Sleep(100 * time.Millisecond)
	for len(p.b.events) > 0 {
		e := <-p.b.events
		if hb, ok := e.Event.(ha.Heartbeat); ok && hb.State != ha.PrimaryActive {
			t.Fatalf("injected message reached the state machine: %+v", hb)
		}
	}
	after, _ := p.b.m.Status("pair-1")
	if !after.Up || after.Received <= before.Received {
		t.Fatalf("genuine heartbeats stopped: %+v", after)
	}
}

func TestMonitorPeerRestartIsAccepted(t *testing.T) {
	p := newTestPair(t, 20*time.Millisecond, 300*time.Millisecond)
	p.a.waitEvent(t, 5*time.Second, isHeartbeat(ha.SecondaryActive))
	p.b.stop()
	p.a.waitEvent(t, 5*time.Second, isDown)
	// A new B process: a new run, numbered from 1 again, answering A's
	// challenge once it has learned it.
	b2 := startSide(t, p.cfgB)
	b2.m.SetLocal("pair-1", Local{State: ha.StateInitializing})
	p.a.waitEvent(t, 5*time.Second, isHeartbeat(ha.StateInitializing))
	if r := p.a.m.Rejects(); r["replayed"] != 0 {
		t.Fatalf("restarted peer rejected as replay: %v", r)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := func() Config {
		return Config{Node: "A", Paths: []Path{{Name: "hm", Local: netip.MustParseAddrPort("127.0.0.1:0")}},
			Interval: 50 * time.Millisecond, FailoverWait: 300 * time.Millisecond,
			Peers: []Peer{{Pair: "p", Node: "B", Secret: []byte("s"), Remotes: map[string]netip.AddrPort{"hm": netip.MustParseAddrPort("127.0.0.1:9")}}}}
	}
	for name, mut := range map[string]func(*Config){
		"wait below two intervals": func(c *Config) { c.FailoverWait = 60 * time.Millisecond },
		"no node ID":               func(c *Config) { c.Node = "" },
		"no path":                  func(c *Config) { c.Paths = nil },
		"repeated path":            func(c *Config) { c.Paths = append(c.Paths, c.Paths[0]) },
		"remote on unknown path": func(c *Config) {
			c.Peers[0].Remotes = map[string]netip.AddrPort{"x": netip.MustParseAddrPort("127.0.0.1:9")}
		},
		"empty secret": func(c *Config) { c.Peers[0].Secret = nil },
		"pair twice":   func(c *Config) { c.Peers = append(c.Peers, c.Peers[0]) },
	} {
		c := good()
		mut(&c)
		if m, err := New(c); err == nil {
			m.closeAll()
			t.Errorf("%s: accepted", name)
		}
	}
	m, err := New(good())
	if err != nil {
		t.Fatal(err)
	}
	m.closeAll()
}

// TestMonitorNegotiatesTheWireVersion: while version-3 messages are lost
// (the peer still runs firmware that reads version 2 only) the pair runs on
// version 2 with no failure and no firmware shown; once they get through
// (the peer was upgraded), both move to version 3 and show each other's
// firmware.
func TestMonitorNegotiatesTheWireVersion(t *testing.T) {
	const interval, wait = 20 * time.Millisecond, 600 * time.Millisecond
	p := newTestPair(t, interval, wait, func(p *testPair) {
		for _, r := range p.relays {
			r.old.Store(true)
		}
	})
	p.a.waitEvent(t, 5*time.Second, isHeartbeat(ha.SecondaryActive))
	time.Sleep(20 * probeEvery * interval) // many probes dropped
	st, _ := p.a.m.Status("pair-1")
	if !st.Up || st.Wire != 2 || st.Firmware != "" {
		t.Fatalf("A with an old peer: up %v, wire %d, firmware %q", st.Up, st.Wire, st.Firmware)
	}
	for _, r := range p.relays {
		r.old.Store(false)
	}
	var a, b PeerStatus
	deadline := time.Now().Add(10 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		a, _ = p.a.m.Status("pair-1")
		b, _ = p.b.m.Status("pair-1")
		if a.Wire == 3 && b.Wire == 3 {
			break
		}
	}
	if a.Wire != 3 || b.Wire != 3 || a.Firmware != "1.1" || b.Firmware != "1.0" {
		t.Fatalf("after the upgrade: A sees wire %d firmware %q, B sees wire %d firmware %q", a.Wire, a.Firmware, b.Wire, b.Firmware)
	}
	for _, s := range []*side{p.a, p.b} {
		for len(s.events) > 0 {
			if e := <-s.events; isDown(e.Event) {
				t.Fatal("the version change took the peer down")
			}
		}
	}
	if r := p.a.m.Rejects(); len(r) != 0 {
		t.Fatalf("rejects: %v", r)
	}
}

// TestMonitorHonoursEachPeersWait: one monitor (an N:1 secondary) with two
// peers whose failover waits differ tells each down after its own wait
// once both fall silent, not both after the shorter one.
func TestMonitorHonoursEachPeersWait(t *testing.T) {
	const interval, short, long = 20 * time.Millisecond, 400 * time.Millisecond, 2 * time.Second
	secret := []byte("pairing password")
	locS := freePort(t, "127.0.0.1")
	var relays []*relay
	peerCfg := func(name string, loc netip.AddrPort, r *relay, wait time.Duration) Config {
		return Config{Node: name, Paths: []Path{{Name: "hm", Local: loc}}, Interval: interval, FailoverWait: wait,
			Peers: []Peer{{Pair: "pair-" + name, Node: "S", Secret: secret, Remotes: map[string]netip.AddrPort{"hm": r.addr()}}}}
	}
	var peers []Peer
	for i, c := range []struct {
		name string
		wait time.Duration
	}{{"A", short}, {"B", long}} {
		loc := freePort(t, fmt.Sprintf("127.0.0.%d", i+2))
		r := newRelay(t, netip.MustParseAddr("127.0.0.5"))
		r.a, r.b = locS, loc
		go r.run()
		relays = append(relays, r)
		peers = append(peers, Peer{Pair: "pair-" + c.name, Node: c.name, Secret: secret, Remotes: map[string]netip.AddrPort{"hm": r.addr()}, FailoverWait: c.wait})
		startSide(t, peerCfg(c.name, loc, r, c.wait)).m.SetLocal("pair-"+c.name, Local{State: ha.PrimaryActive, HoldsVIP: true})
	}
	s := startSide(t, Config{Node: "S", Paths: []Path{{Name: "hm", Local: locS}}, Interval: interval, FailoverWait: short, Peers: peers})
	up := map[string]bool{}
	for len(up) < 2 {
		e := <-s.events
		if _, ok := e.Event.(ha.Heartbeat); ok {
			up[e.Pair] = true
		}
	}
	silent := time.Now()
	for _, r := range relays {
		r.drop.Store(true)
	}
	down := map[string]time.Duration{}
	deadline := time.After(20 * time.Second)
	for len(down) < 2 {
		select {
		case e := <-s.events:
			if isDown(e.Event) {
				down[e.Pair] = time.Since(silent)
			}
		case <-deadline:
			t.Fatalf("peers down after the silence: %v", down)
		}
	}
	t.Logf("down after %v (wait %v) and %v (wait %v)", down["pair-A"], short, down["pair-B"], long)
	// A lower bound only: a busy machine may tell it later, never sooner.
	if down["pair-B"] < long {
		t.Fatalf("the peer with a %v wait was down after %v: the shorter wait applied to it", long, down["pair-B"])
	}
}
