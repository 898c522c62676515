package hmdtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
)

// TestWitnessVetoesTakeoverFromLivePrimary: the secondary is cut off from
// the primary alone (every frame from the primary's MAC dropped at the
// secondary: heartbeats and ARP), while it still reaches the gateway and
// the witness — a third hmd without an HA role. Gateway and VIP probes
// alone would let it take over from a live primary; the witness still
// hears the primary, so there is no takeover. When the primary really dies
// the witness agrees and the secondary takes over.
func TestWitnessVetoesTakeoverFromLivePrimary(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l := newLAN(t, "10.244.0")
	p := l.addNode("mse1", 2, config.RolePrimary, "3355", 10)
	s := l.addNode("mse2", 3, config.RoleSecondary, "3355", 0)
	w := l.addNode("witness", 4, config.RoleNone, "3355", 0)
	vip := l.addr(10)
	pwFile := filepath.Join(t.TempDir(), "witness-password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.args = append(s.args, "--witness", w.hip.String(), "--witness-password-file", pwFile)
	s.restart()
	pair(t, p, s, "automatic", "manual", 500*time.Millisecond)
	p.waitState(0, "PRIMARY_ACTIVE", 10*time.Second)
	s.waitState(0, "SECONDARY_ACTIVE", 10*time.Second)

	s.nft(fmt.Sprintf(`table netdev cut {
  chain in { type filter hook ingress device eth0 priority 0; ether saddr %s drop; }
}`, p.ns.HardwareAddr("eth0")))
	netnstest.Eventually(t, 5*time.Second, "the secondary to see heartbeats down", func() bool {
		return s.status().Peers[0].Heartbeat == "Down"
	})
	for range 15 { // 3 s, six failover waits
		if got := owners(vip, p, s); len(got) != 1 || got[0] != "mse1" {
			t.Fatalf("with the secondary cut from a live primary the VIP is on %v, want only mse1\nsecondary output:\n%s", got, s.proc.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if evs, _ := s.hactl("events"); !strings.Contains(evs, "the witness still sees the peer") {
		t.Errorf("the secondary did not log the witness's veto:\n%s", evs)
	}
	s.nft("delete table netdev cut")
	netnstest.Eventually(t, 5*time.Second, "heartbeats to return", func() bool { return s.status().Peers[0].Heartbeat == "Up" })
	s.waitState(0, "SECONDARY_ACTIVE", 5*time.Second)

	// The primary dies: the witness no longer hears it and agrees.
	p.kill(l)
	s.waitState(0, "FAILOVER_ACTIVE", 10*time.Second)
	netnstest.Eventually(t, 5*time.Second, "the VIP on the secondary", func() bool { return s.hasAddr(vip) })
	if !strings.Contains(s.proc.Output(), "hears=false") {
		t.Errorf("the secondary took over without the witness's agreement in its log:\n%s", s.proc.Output())
	}
}
