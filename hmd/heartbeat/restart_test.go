package heartbeat

import (
	"math"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/ha"
)

// inject sends datagrams to B's hm socket from a stranger's address.
func (p *testPair) inject(t *testing.T, datagrams ...[]byte) {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.9:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, d := range datagrams {
		if _, err := c.WriteToUDPAddrPort(d, p.cfgB.Paths[0].Local); err != nil {
			t.Fatal(err)
		}
	}
}

// noEvent fails if an event satisfying bad arrives within d.
func (s *side) noEvent(t *testing.T, d time.Duration, bad func(ha.Event) bool, what string) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case e := <-s.events:
			if bad(e.Event) {
				t.Fatalf("%s: %T %+v", what, e.Event, e.Event)
			}
		case <-deadline:
			return
		}
	}
}

// Heartbeats captured from A are replayed, one every interval, to a B
// restarted after A died: B must not take them for A (the replays held a
// dead primary "Up" as long as they came), and must declare A down.
func TestMonitorRejectsReplayAfterRestart(t *testing.T) {
	const interval, wait = 20 * time.Millisecond, 400 * time.Millisecond
	p := newTestPair(t, interval, wait)
	p.relays["hm"].keep.Store(true)
	p.b.waitEvent(t, 5*time.Second, isHeartbeat(ha.PrimaryActive))
	time.Sleep(30 * interval)
	p.relays["hm"].mu.Lock()
	captured := p.relays["hm"].all
	p.relays["hm"].mu.Unlock()
	if len(captured) < 20 {
		t.Fatalf("only %d packets captured", len(captured))
	}
	p.a.stop() // A dies
	p.b.stop() // and B restarts
	b2 := startSide(t, p.cfgB)
	b2.m.SetLocal("pair-1", Local{State: ha.SecondaryActive})
	p.b = b2
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, d := range captured {
			select {
			case <-stop:
				return
			case <-time.After(interval):
			}
			p.inject(t, d)
		}
	}()
	defer func() { close(stop); <-done }()
	for {
		select {
		case e := <-b2.events:
			if hb, ok := e.Event.(ha.Heartbeat); ok {
				t.Fatalf("a replayed heartbeat from before the restart was believed: %+v", hb)
			}
			if isDown(e.Event) {
				if r := b2.m.Rejects(); r["replayed"] == 0 {
					t.Fatalf("replays not counted: %v", r)
				}
				return
			}
		case <-time.After(10 * wait):
			t.Fatal("the dead peer was never declared down")
		}
	}
}

// A's sequence numbers were far ahead (its clock was wrong, and the old
// scheme started them from the clock); A restarts with a correct clock,
// so its new numbers are lower. B must accept the restarted A.
func TestMonitorPeerRestartWithLowerSequenceIsAccepted(t *testing.T) {
	p := newTestPair(t, 20*time.Millisecond, 400*time.Millisecond)
	p.b.waitEvent(t, 5*time.Second, isHeartbeat(ha.PrimaryActive))
	p.a.m.mu.Lock()
	p.a.m.peers["pair-1"].seq += uint64(time.Hour)
	p.a.m.mu.Unlock()
	time.Sleep(200 * time.Millisecond) // B hears the high numbers
	cfgA := p.a.m.cfg
	p.a.stop()
	p.b.waitEvent(t, 5*time.Second, isDown)
	a2 := startSide(t, cfgA)
	a2.m.SetLocal("pair-1", Local{State: ha.StateInitializing})
	p.b.waitEvent(t, 5*time.Second, isHeartbeat(ha.StateInitializing))
}

// A key holder takes a genuine heartbeat of A, sets the highest sequence
// number and sends it to B. That must not lock the real A out: B keeps
// hearing A and never declares it down.
func TestMonitorMaxSequenceCannotLockThePeerOut(t *testing.T) {
	const interval, wait = 20 * time.Millisecond, 400 * time.Millisecond
	p := newTestPair(t, interval, wait)
	p.b.waitEvent(t, 5*time.Second, isHeartbeat(ha.PrimaryActive))
	time.Sleep(10 * interval)
	m, _, _, err := parse(p.relays["hm"].captured())
	if err != nil {
		t.Fatal(err)
	}
	m.Seq = math.MaxUint64
	key, _ := DeriveKey([]byte("pairing password"), "pair-1")
	p.inject(t, seal(t, m, key))
	p.b.noEvent(t, 5*wait, isDown, "the real peer was locked out by one max-sequence packet")
	st, _ := p.b.m.Status("pair-1")
	time.Sleep(5 * interval)
	if st2, _ := p.b.m.Status("pair-1"); !st2.Up || st2.Received <= st.Received {
		t.Fatalf("B stopped hearing A: %+v then %+v", st, st2)
	}
}
