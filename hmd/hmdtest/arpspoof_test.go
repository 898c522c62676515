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
