package hmdtest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/daemon"
	"github.com/hafw/hafw/hmd/heartbeat"
	"github.com/hafw/hafw/hmd/store"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
)

// nft runs an nftables script inside n's namespace.
func (n *node) nft(script string) {
	n.t.Helper()
	cmd := exec.Command("ip", "netns", "exec", n.ns.Name, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		n.t.Fatalf("nft in %s: %v: %s", n.name, err, out)
	}
}

// owners counts the nodes that have ip on eth0.
func owners(ip netip.Addr, nodes ...*node) []string {
	var out []string
	for _, n := range nodes {
		if n.hasAddr(ip) {
			out = append(out, n.name)
		}
	}
	return out
}

// noTakeover checks, once the secondary has lost the primary's
// heartbeats, that for 3 s (six failover waits) the VIP stays on the live
// primary alone, and that the secondary's events say why (reason).
func noTakeover(t *testing.T, vip netip.Addr, p, s *node, situation, reason string) {
	t.Helper()
	netnstest.Eventually(t, 5*time.Second, "the secondary to see heartbeats down", func() bool {
		return s.status().Peers[0].Heartbeat == "Down"
	})
	for range 15 {
		if got := owners(vip, p, s); len(got) != 1 || got[0] != p.name {
			t.Fatalf("%s the VIP is on %v, want only %s\nsecondary output:\n%s", situation, got, p.name, s.proc.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if evs, _ := s.hactl("events"); !strings.Contains(evs, reason) {
		t.Errorf("%s the secondary's events lack %q:\n%s", situation, reason, evs)
	}
}

// heartbeatsBack waits, after a cut is healed, for the secondary to hear
// the primary again and stand by.
func heartbeatsBack(t *testing.T, s *node) {
	t.Helper()
	netnstest.Eventually(t, 5*time.Second, "heartbeats to return", func() bool { return s.status().Peers[0].Heartbeat == "Up" })
	s.waitState(0, "SECONDARY_ACTIVE", 5*time.Second)
}

// TestHeartbeatCutAndSplitBrain: a cut heartbeat link with both nodes alive
// must not make a second VIP owner (the secondary's ARP probe sees the
// primary answering); and a real split brain — the primary isolated, the
// secondary taking over, the primary reconnected still holding the VIP — is
// repaired automatically to exactly one owner.
func TestHeartbeatCutAndSplitBrain(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l, p, s := newPair(t, "10.233.0", serveNames)
	vip := l.addr(10)

	// Phase 1: drop heartbeats both ways on the secondary.
	s.nft(fmt.Sprintf(`table inet hbcut {
  chain in { type filter hook input priority 0; udp dport %[1]d drop; }
  chain out { type filter hook output priority 0; udp dport %[1]d drop; }
}`, daemon.HeartbeatPort))
	noTakeover(t, vip, p, s, "with heartbeats cut", "Takeover refused")
	s.nft("delete table inet hbcut")
	heartbeatsBack(t, s)

	// Phase 2: isolate the primary (alive, still holding the VIP): the
	// secondary takes over on the LAN.
	l.br.SetPort(p.port, false)
	s.waitState(0, "FAILOVER_ACTIVE", 10*time.Second)
	if !p.hasAddr(vip) || !s.hasAddr(vip) {
		t.Fatalf("setup: both should hold the VIP while the primary is isolated (primary %v, secondary %v)", p.hasAddr(vip), s.hasAddr(vip))
	}
	// Reconnect. Whoever notices first — returning heartbeats, or either
	// side's ARP check of the VIP it holds — the newer claim, the
	// secondary's takeover, keeps the VIP and the primary goes TERMINATED.
	l.br.SetPort(p.port, true)
	const owner = "mse2"
	netnstest.Eventually(t, 10*time.Second, "the split brain to be repaired", func() bool {
		got := owners(vip, p, s)
		return len(got) == 1 && got[0] == owner
	})
	p.waitState(0, "TERMINATED", 5*time.Second)
	s.waitState(0, "FAILOVER_ACTIVE", 5*time.Second)
	for range 10 {
		if got := owners(vip, p, s); len(got) != 1 || got[0] != owner {
			t.Fatalf("after repair the VIP is on %v, want only %s", got, owner)
		}
		time.Sleep(100 * time.Millisecond)
	}
	evs, _ := p.hactl("events")
	evs2, _ := s.hactl("events")
	if !strings.Contains(evs+evs2, "Split brain detected") {
		t.Errorf("no split brain event on either side:\n%s\n%s", evs, evs2)
	}
	netnstest.Eventually(t, 5*time.Second, "the client to reach the owner through the VIP", func() bool {
		return l.ask(vip, servicePort) == owner
	})
}

// TestSplitBrainRepairedWithoutHeartbeats: the same split brain, but the
// heartbeats stay lost after the LAN heals (a filtered UDP port), so no
// epoch is exchanged. Each side's ARP check finds the peer itself holding
// the VIP; after a failover wait the newer claim, the secondary's
// takeover, still keeps it, and the primary releases it and goes
// TERMINATED.
func TestSplitBrainRepairedWithoutHeartbeats(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l, p, s := newPair(t, "10.246.0", serveNames)
	vip := l.addr(10)
	l.br.SetPort(p.port, false)
	s.waitState(0, "FAILOVER_ACTIVE", 10*time.Second)
	s.nft(fmt.Sprintf(`table inet hbcut {
  chain in { type filter hook input priority 0; udp dport %[1]d drop; }
  chain out { type filter hook output priority 0; udp dport %[1]d drop; }
}`, daemon.HeartbeatPort))
	if got := owners(vip, p, s); len(got) != 2 {
		t.Fatalf("setup: both should hold the VIP while the primary is isolated, got %v", got)
	}
	l.br.SetPort(p.port, true)
	netnstest.Eventually(t, 10*time.Second, "the split brain to be repaired", func() bool {
		got := owners(vip, p, s)
		return len(got) == 1 && got[0] == "mse2"
	})
	p.waitState(0, "TERMINATED", 5*time.Second)
	if st := s.status().Peers[0]; st.State != "FAILOVER_ACTIVE" || st.Heartbeat != "Down" {
		t.Fatalf("the secondary after the repair: %+v, want FAILOVER_ACTIVE with heartbeats still down", st)
	}
	if evs, _ := p.hactl("events"); !strings.Contains(evs, "the primary releases it") {
		t.Errorf("the primary's events do not say why it released the VIP:\n%s", evs)
	}
	netnstest.Eventually(t, 5*time.Second, "the client to reach the secondary through the VIP", func() bool {
		return l.ask(vip, servicePort) == "mse2"
	})
}

// TestForgedAndReplayedHeartbeatsAreRejected sends bad heartbeats from the
// client namespace to the secondary: truncated, forged (wrong key), from an
// unknown pair, and an authentic but replayed one. Each is counted by
// reason in the status, and none changes the pair's state.
func TestForgedAndReplayedHeartbeatsAreRejected(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l := newLAN(t, "10.234.0")
	p := l.addNode("mse1", 2, config.RolePrimary, "3355", 10)
	s := l.addNode("mse2", 3, config.RoleSecondary, "3355", 0)
	pair(t, p, s, "automatic", "manual", time.Second)
	s.waitState(0, "SECONDARY_ACTIVE", 10*time.Second)
	netnstest.Eventually(t, 5*time.Second, "heartbeats up", func() bool { return s.status().Peers[0].Heartbeat == "Up" })

	// The real secret, as only a root intruder on the primary could read it.
	data, err := os.ReadFile(filepath.Join(p.stateDir, "peers", s.hip.String()+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var stored store.Peer
	if err := json.Unmarshal(data, &stored); err != nil {
		t.Fatal(err)
	}
	pairID := p.hip.String() + "/" + s.hip.String()
	goodKey, err := heartbeat.DeriveKey(stored.Config.Secret, pairID)
	if err != nil {
		t.Fatal(err)
	}
	badKey, _ := heartbeat.DeriveKey([]byte("not the pairing secret at all!!!"), pairID)
	seal := func(key []byte, pair string, seq uint64) []byte {
		b, err := heartbeat.Seal(heartbeat.Message{Flags: heartbeat.FlagHoldsVIP, State: "GRACEFUL_SHUTDOWN", Sender: p.hip.String(), Pair: pair,
			Seq: seq, SentAt: time.Now().UnixNano(), Epoch: 99, Boot: 1, Challenge: 1, Answer: 1}, key)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	forged := seal(badKey, pairID, uint64(time.Now().UnixNano())+1e15)
	replayed := seal(goodKey, pairID, 1) // authentic, but answering a challenge the secondary never drew
	unknown := seal(goodKey, "10.234.0.99/"+s.hip.String(), uint64(time.Now().UnixNano()))
	datagrams := [][]byte{forged[:20], forged, replayed, unknown}
	l.client.MustDo(func() error {
		c, err := net.Dial("udp4", netip.AddrPortFrom(s.hip, daemon.HeartbeatPort).String())
		if err != nil {
			return err
		}
		defer c.Close()
		for _, d := range datagrams {
			if _, err := c.Write(d); err != nil {
				return err
			}
		}
		return nil
	})
	want := map[string]uint64{"truncated": 1, "forged": 1, "replayed": 1, "unknown_peer": 1}
	netnstest.Eventually(t, 5*time.Second, "every bad heartbeat to be counted", func() bool {
		got := s.status().Peers[0].Rejected
		for k, v := range want {
			if got[k] < v {
				return false
			}
		}
		return true
	})
	st := s.status().Peers[0]
	if st.State != "SECONDARY_ACTIVE" || st.Heartbeat != "Up" || st.OwnsVIP {
		t.Fatalf("bad heartbeats changed the pair: %+v", st)
	}
	if out, _ := s.hactl("status"); !strings.Contains(out, "forged 1") || !strings.Contains(out, "replayed 1") {
		t.Errorf("hactl status does not show the rejects:\n%s", out)
	}
}
