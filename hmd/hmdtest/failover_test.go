package hmdtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/internal/testenv"
)

const servicePort = 9000

// TestKillPrimaryMovesVIP: with automatic failover, a primary that dies
// (kill -9 and cable pulled) loses its VIP to the secondary: the client's
// neighbour entry moves to the secondary's MAC and a TCP connection to the
// VIP reaches the secondary.
func TestKillPrimaryMovesVIP(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l, p, s := newPair(t, "10.231.0", serveNames)
	vip := l.addr(10)
	if got := field(p.gethainfo(), "Heartbeat status"); len(got) != 1 || got[0] != "Up" {
		t.Fatalf("primary heartbeat status %v", got)
	}
	if !p.hasAddr(vip) || s.hasAddr(vip) {
		t.Fatalf("before failover the VIP must be on the primary only (primary %v, secondary %v)", p.hasAddr(vip), s.hasAddr(vip))
	}
	// The client talks to the VIP first, as real clients do.
	if got := l.ask(vip, servicePort); got != "mse1" {
		t.Fatalf("before failover the VIP answered %q, want mse1", got)
	}
	if !sameMAC(l.clientMAC(vip), p.ns.HardwareAddr("eth0")) {
		t.Fatalf("client's neighbour entry for the VIP is not the primary's MAC")
	}
	// Steady heartbeats (every 100 ms) are not written to disk: the
	// state file changes only when the state does (the pair may still be
	// settling, say the first sync, hence a few writes are allowed).
	stateFile := filepath.Join(s.stateDir, "peers", p.hip.String()+".json")
	var writes int
	var last time.Time
	for range 30 { // 1.5 s: 15 heartbeats
		fi, err := os.Stat(stateFile)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(last) {
			writes++
			last = fi.ModTime()
		}
		time.Sleep(50 * time.Millisecond)
	}
	if writes > 4 { // the first Stat counts as one
		t.Fatalf("the secondary rewrote its state file %d times in 1.5 s of steady heartbeats", writes-1)
	}

	killed := time.Now()
	p.kill(l)
	sMAC := s.ns.HardwareAddr("eth0")
	var first time.Duration
	deadline := time.Now().Add(15 * time.Second)
	for {
		if got := l.ask(vip, servicePort); got == "mse2" {
			first = time.Since(killed)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the VIP never reached the secondary; secondary:\n%s\nhmd output:\n%s", s.gethainfo(), s.proc.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("client reached the secondary through the VIP %v after the kill (failover wait 500ms)", first.Round(time.Millisecond))
	if !sameMAC(l.clientMAC(vip), sMAC) {
		t.Fatalf("client's neighbour entry for the VIP is %v, want the secondary's %v", l.clientMAC(vip), sMAC)
	}
	s.waitState(0, "FAILOVER_ACTIVE", 5*time.Second)
	if !s.hasAddr(vip) {
		t.Fatal("secondary serves but has no VIP on eth0")
	}
	if out := s.ns.IP("-o", "-4", "addr", "show", "dev", "eth0"); !strings.Contains(out, "eth0:1") {
		t.Fatalf("VIP not labelled eth0:1: %s", out)
	}

	// hmd is down on the primary: gethainfo reads the last saved state.
	out := p.gethainfo()
	if !strings.HasPrefix(out, "Health Monitor is not running. Following information is from the last saved configuration") ||
		len(field(out, "Last shutdown state")) != 1 {
		t.Fatalf("gethainfo with hmd down:\n%s", out)
	}

	// The primary comes back (cable and hmd): it must not take the VIP
	// while the secondary serves, and shows TERMINATED.
	l.br.SetPort(p.port, true)
	p.start()
	p.waitState(0, "TERMINATED", 10*time.Second)
	time.Sleep(time.Second)
	if p.hasAddr(vip) || !s.hasAddr(vip) {
		t.Fatalf("after the primary's return the VIP must stay on the secondary only (primary %v, secondary %v)", p.hasAddr(vip), s.hasAddr(vip))
	}
}
