package hmdtest

import (
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
)

// TestSpoofedARPDoesNotEndThePrimarysService: the secondary is gone and
// another host on the LAN answers ARP for both the VIP and the secondary's
// address, as if the secondary had taken the VIP over. ARP alone must not
// make the primary yield: it asks the peer over its authenticated API,
// gets no confirmation, and keeps serving.
func TestSpoofedARPDoesNotEndThePrimarysService(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l, p, s := newPair(t, "10.217.0", serveNames)
	vip := l.addr(10)
	s.kill(l)

	intruder := netnstest.New(t, "intruder")
	l.br.Attach(intruder, "eth0")
	intruder.AddAddr("eth0", l.prefix(3))  // the secondary's address
	intruder.AddAddr("eth0", l.prefix(10)) // the VIP

	// The primary probes the VIP every failover wait (500 ms) while the
	// peer is silent and would have yielded after one wait: give it many.
	for range 16 {
		time.Sleep(500 * time.Millisecond)
		if st := p.status().Peers[0]; st.State != "PRIMARY_ACTIVE" || !p.hasAddr(vip) {
			evs, _ := p.hactl("events")
			t.Fatalf("the primary gave up its service on a spoofed ARP answer: %s, holds the VIP %v\nevents:\n%s\nprimary output:\n%s", st.State, p.hasAddr(vip), evs, p.proc.Output())
		}
	}
	evs, _ := p.hactl("events")
	if !strings.Contains(evs, "the primary keeps it") {
		t.Errorf("the primary's events do not say it kept the VIP:\n%s", evs)
	}
}

// TestSpoofedARPDoesNotEndTheSecondarysService: the primary is gone and
// the secondary serves (FAILOVER_ACTIVE); a stranger on the LAN answers
// ARP for the VIP. The secondary asks the primary over its authenticated
// API, gets no answer, and keeps serving; before, it released the VIP
// and nobody served. It asks at most once per failover wait.
func TestSpoofedARPDoesNotEndTheSecondarysService(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l, p, s := newPair(t, "10.218.0", serveNames)
	vip := l.addr(10)
	p.kill(l)
	s.waitState(0, "FAILOVER_ACTIVE", 15*time.Second)
	netnstest.Eventually(t, 10*time.Second, "the secondary to hold the VIP", func() bool { return s.hasAddr(vip) })

	intruder := netnstest.New(t, "intruder")
	l.br.Attach(intruder, "eth0")
	intruder.AddAddr("eth0", l.prefix(10)) // the VIP, from a MAC that is nobody's

	for range 16 {
		time.Sleep(500 * time.Millisecond)
		if st := s.status().Peers[0]; st.State != "FAILOVER_ACTIVE" || !s.hasAddr(vip) {
			evs, _ := s.hactl("events")
			t.Fatalf("the secondary gave up its service on a stranger's ARP answer: %s, holds the VIP %v\nevents:\n%s\nsecondary output:\n%s", st.State, s.hasAddr(vip), evs, s.proc.Output())
		}
	}
	evs, _ := s.hactl("events")
	if !strings.Contains(evs, "the secondary keeps it") {
		t.Errorf("the secondary's events do not say it kept the VIP:\n%s", evs)
	}
	asked := strings.Count(s.proc.Output(), "the peer did not confirm its claim of the VIP")
	if asked == 0 || asked > 16*500/500+1 {
		t.Errorf("the secondary asked the primary %d times in 8 s with a 500 ms wait", asked)
	}
}
