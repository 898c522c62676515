package hmdtest

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/daemon"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
)

// TestDirectConnectKeepsThePeerUp: with a direct-connect cable (eth1) the
// peer is down only when both paths are silent. Cutting heartbeats on the
// health-monitor network alone changes nothing; cutting the cable too
// makes the peer down (and the VIP still has one owner).
func TestDirectConnectKeepsThePeerUp(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l := newLAN(t, "10.240.0")
	direct := func(host int) func(*config.Appliance, *netnstest.NS) {
		return func(c *config.Appliance, _ *netnstest.NS) {
			c.DirectConnectInterface = "eth1"
			c.Eth1 = config.Interface{Enabled: true, Address: netip.MustParsePrefix(fmt.Sprintf("10.241.0.%d/24", host))}
		}
	}
	p := l.addNode("mse1", 2, config.RolePrimary, "3355", 10, direct(1))
	s := l.addNode("mse2", 3, config.RoleSecondary, "3355", 0, direct(2), func(_ *config.Appliance, ns *netnstest.NS) {
		netnstest.Veth(p.ns, "eth1", ns, "eth1")
		p.ns.AddAddr("eth1", netip.MustParsePrefix("10.241.0.1/24"))
		ns.AddAddr("eth1", netip.MustParsePrefix("10.241.0.2/24"))
	})
	pair(t, p, s, "automatic", "manual", time.Second)
	s.waitState(0, "SECONDARY_ACTIVE", 10*time.Second)
	// The state is set by the pairing; the heartbeat comes up a moment later,
	// after the first challenge round trip on each path.
	netnstest.Eventually(t, 10*time.Second, "the secondary to hear the primary on both paths", func() bool {
		st := s.status().Peers[0]
		if st.Heartbeat != "Up" {
			return false
		}
		for _, p := range st.HeartbeatPaths {
			if !p.Up {
				return false
			}
		}
		return true
	})
	if got := field(s.gethainfo(), "Direct connect used"); len(got) != 1 || got[0] != "Yes" {
		t.Fatalf("secondary: direct connect used %v", got)
	}
	if got := field(p.gethainfo(), "Direct connect used"); len(got) != 1 || got[0] != "Yes" {
		t.Fatalf("primary: direct connect used %v", got)
	}
	s.nft(fmt.Sprintf(`table inet hmcut {
  chain in { type filter hook input priority 0; iifname "eth0" udp dport %[1]d drop; }
  chain out { type filter hook output priority 0; oifname "eth0" udp dport %[1]d drop; }
}`, daemon.HeartbeatPort))
	for range 15 { // 3 s, three failover waits
		if st := s.status().Peers[0]; st.Heartbeat != "Up" || st.State != "SECONDARY_ACTIVE" {
			t.Fatalf("with the direct cable up the peer must stay up: %+v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.ns.IP("link", "set", "eth1", "down")
	netnstest.Eventually(t, 5*time.Second, "the peer to be down with both paths cut", func() bool {
		return s.status().Peers[0].Heartbeat == "Down"
	})
	time.Sleep(time.Second)
	if got := owners(l.addr(10), p, s); len(got) != 1 || got[0] != "mse1" {
		t.Fatalf("VIP owners %v, want only mse1", got)
	}
}
