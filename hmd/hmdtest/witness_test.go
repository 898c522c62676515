package hmdtest

import (
	"fmt"
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
	// The operator names the witness when pairing; a third node's
	// address is required, and the secondary checks it is on its subnet.
	base := []string{"pair", "--secondary-name", s.name, "--secondary-ip", s.hip.String(), "--secondary-password", password,
		"--failover", "automatic", "--wait", "500ms", "--witness-password", password}
	if out, err := p.hactl(append(base, "--trust-on-first-use", "--witness", s.hip.String())...); err == nil || !strings.Contains(out, "witness") {
		t.Fatalf("the secondary accepted as its own witness: err %v, output %q", err, out)
	}
	if out, err := p.hactl(append(base, "--trust-on-first-use", "--witness", "10.99.0.4")...); err == nil || !strings.Contains(out, "not on the secondary's health-monitor subnet") {
		t.Fatalf("a witness off the subnet: err %v, output %q", err, out)
	}
	// Unpinned, hactl shows what the secondary and the witness present and
	// pairs only once the operator names them.
	sfp, wfp := s.status().CertFingerprint, w.status().CertFingerprint
	out, err := p.hactl(append(base, "--witness", w.hip.String())...)
	if err == nil || !strings.Contains(out, "the secondary "+s.hip.String()+" presents "+sfp) || !strings.Contains(out, "the witness "+w.hip.String()+" presents "+wfp) {
		t.Fatalf("hactl pair without pins: err %v, output %q", err, out)
	}
	if out, err := p.hactl(append(base, "--witness", w.hip.String(), "--fingerprint", sfp, "--witness-fingerprint", wfp)...); err != nil {
		t.Fatalf("hactl pair --witness: %v\n%s", err, out)
	}
	p.waitState(0, "PRIMARY_ACTIVE", 10*time.Second)
	s.waitState(0, "SECONDARY_ACTIVE", 10*time.Second)
	if got := s.status().Peers[0].Witness; got != w.hip.String() {
		t.Fatalf("the secondary's status names witness %q, want %s", got, w.hip)
	}
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
