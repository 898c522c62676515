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
	pwFile := filepath.Join(t.TempDir(), "witness-password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, p, s := newPair(t, "10.244.0", func(l *lan, p, s *node) {
		w := l.addNode("witness", 4, config.RoleNone, "3355", 0)
		s.args = append(s.args, "--witness", w.hip.String(), "--witness-password-file", pwFile)
		s.restart()
	})
	vip := l.addr(10)

	s.nft(fmt.Sprintf(`table netdev cut {
  chain in { type filter hook ingress device eth0 priority 0; ether saddr %s drop; }
}`, p.ns.HardwareAddr("eth0")))
	noTakeover(t, vip, p, s, "with the secondary cut from a live primary", "the witness still sees the peer")
	s.nft("delete table netdev cut")
	heartbeatsBack(t, s)

	// The primary dies: the witness no longer hears it and agrees.
	p.kill(l)
	s.waitState(0, "FAILOVER_ACTIVE", 10*time.Second)
	netnstest.Eventually(t, 5*time.Second, "the VIP on the secondary", func() bool { return s.hasAddr(vip) })
	if !strings.Contains(s.proc.Output(), "hears=false") {
		t.Errorf("the secondary took over without the witness's agreement in its log:\n%s", s.proc.Output())
	}
}
