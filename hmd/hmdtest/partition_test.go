package hmdtest

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
)

// The partition tests cut everything between the two nodes — heartbeats
// and ARP, as when the link between their two switches breaks — while the
// client still reaches both, and measure what a client and the VIP's
// owners go through: dual ownership (from the kernels' address events),
// flips of the client's traffic between the nodes and the client's longest
// wait (gapprobe).

// cutBetween drops, at both nodes' ingress, every frame sent by the other
// one (so ARP too, not only heartbeats); anything else — the client, the
// gateway, a witness — still reaches both. It returns the heal.
func cutBetween(a, b *node) (heal func()) {
	drop := func(at, from *node) {
		at.nft(fmt.Sprintf(`table netdev partition {
  chain in { type filter hook ingress device eth0 priority 0; ether saddr %s drop; }
}`, from.ns.HardwareAddr("eth0")))
	}
	drop(a, b)
	drop(b, a)
	return func() {
		a.nft("delete table netdev partition")
		b.nft("delete table netdev partition")
	}
}

// vipWatch records when each node's kernel adds and removes the VIP, from
// netlink address events (received within milliseconds of the change), so
// that dual ownership is measured over the whole run instead of sampled.
type vipWatch struct {
	vip netip.Addr

	mu     sync.Mutex
	events []vipEvent
}

type vipEvent struct {
	node string
	at   time.Time
	held bool
}

// watchVIP starts watching vip on every node until the test ends; the
// nodes' current ownership is recorded first.
func watchVIP(t *testing.T, vip netip.Addr, nodes ...*node) *vipWatch {
	t.Helper()
	w := &vipWatch{vip: vip}
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(done); wg.Wait() })
	for _, n := range nodes {
		h, err := netns.GetFromName(n.ns.Name)
		if err != nil {
			t.Fatal(err)
		}
		updates := make(chan netlink.AddrUpdate, 64)
		err = netlink.AddrSubscribeWithOptions(updates, done, netlink.AddrSubscribeOptions{Namespace: &h, ListExisting: true,
			ErrorCallback: func(err error) {
				select {
				case <-done: // the subscription ends with the test
				default:
					t.Errorf("address events of %s: %v", n.name, err)
				}
			}})
		h.Close()
		if err != nil {
			t.Fatalf("address events of %s: %v", n.name, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range updates {
				ip, ok := netip.AddrFromSlice(u.LinkAddress.IP)
				if !ok || ip.Unmap() != vip {
					continue
				}
				w.mu.Lock()
				w.events = append(w.events, vipEvent{node: n.name, at: time.Now(), held: u.NewAddr})
				w.mu.Unlock()
			}
		}()
	}
	// ListExisting delivers the current addresses first.
	time.Sleep(200 * time.Millisecond)
	return w
}

// dual is how long two or more nodes held the VIP at once between from
// and to, and how often each node added it in that window.
func (w *vipWatch) dual(from, to time.Time) (time.Duration, map[string]int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	holds := map[string]bool{}
	adds := map[string]int{}
	var total time.Duration
	last := from
	count := func() int {
		c := 0
		for _, h := range holds {
			if h {
				c++
			}
		}
		return c
	}
	for _, e := range w.events {
		at := e.at
		if at.After(to) {
			break
		}
		if at.After(from) {
			if count() > 1 {
				total += at.Sub(last)
			}
			last = at
			if e.held && !holds[e.node] {
				adds[e.node]++
			}
		}
		holds[e.node] = e.held
	}
	if count() > 1 {
		total += to.Sub(last)
	}
	return total, adds
}

// released is when node last removed the VIP after from (zero if not).
func (w *vipWatch) released(node string, from time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.events {
		if e.node == node && !e.held && e.at.After(from) {
			return e.at
		}
	}
	return time.Time{}
}

// flips counts the client's traffic moving from one node to the other
// between from and to.
func (g *gapProber) flips(from, to time.Time) int {
	n := 0
	for _, l := range g.lines("from") {
		if l.at.After(from) && l.at.Before(to) {
			n++
		}
	}
	return n
}

// maxClientGap is the longest a client may wait, asserted through a full
// cut and its heal: the client reaches both nodes, so it never has to wait
// for a failover. The instruments run under SCHED_FIFO and stretches in
// which the prober itself could not keep its schedule are left out
// (gapreport). The target is 100 ms, and an idle machine meets it (the
// logged waits are 4–25 ms); the assertion allows 500 ms because a busy
// one (the suite beside two CPU hogs) delays the serving processes by up
// to ~100 ms with nothing wrong in HA, while the failures it guards
// against are an order of magnitude longer (a heal that waited for the
// next 2 s refresh: 1.3–1.65 s; a takeover: the failover wait and more).
const maxClientGap = 500 * time.Millisecond

// partitionPair is a pair (automatic failover, 1 s failover wait) whose
// nodes answer gapprobe on servicePort, with a gapprobe client asking the
// VIP every 5 ms; with witness, a third hmd without an HA role (on the
// client's side of every cut) is the pairing's witness.
func partitionPair(t *testing.T, subnet string, witness bool) (l *lan, p, s *node, g *gapProber) {
	t.Helper()
	l = newLAN(t, subnet)
	p = l.addNode("mse1", 2, config.RolePrimary, "3355", 10)
	s = l.addNode("mse2", 3, config.RoleSecondary, "3355", 0)
	req := api.PairRequest{SecondaryName: s.name, SecondaryIP: s.hip.String(), SecondaryPassword: password,
		FailoverType: "automatic", FailbackType: "manual", LongFailoverWait: api.Duration(time.Second),
		SecondaryFingerprint: s.status().CertFingerprint}
	if witness {
		w := l.addNode("witness", 4, config.RoleNone, "3355", 0)
		req.WitnessRef = api.WitnessRef{Witness: w.hip.String(), WitnessPassword: password, WitnessFingerprint: w.status().CertFingerprint}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.api().Pair(ctx, req); err != nil {
		t.Fatalf("pair: %v", err)
	}
	p.waitState(0, "PRIMARY_ACTIVE", 10*time.Second)
	s.waitState(0, "SECONDARY_ACTIVE", 10*time.Second)
	serveProbes(t, p.ns, p.name, servicePort)
	serveProbes(t, s.ns, s.name, servicePort)
	g = startGapProber(l, servicePort)
	netnstest.Eventually(t, 5*time.Second, "the client to be answered through the VIP", func() bool {
		_, ok := g.firstAnswer(p.name)
		return ok
	})
	return l, p, s, g
}

// TestFullCutWithoutWitnessBoundsTheDamage: with no witness a full cut
// makes two owners (each side sees only silence; the secondary's gateway
// and VIP probes agree). The damage is bounded: the primary stops
// re-announcing the VIP once its peer is silent, so the client follows
// the secondary's takeover once and stays there instead of flipping at
// every 2 s refresh of either side; at the heal the newer claim (the
// secondary's) re-announces at once and the primary releases at once, and
// the client never waits more than maxClientGap.
func TestFullCutWithoutWitnessBoundsTheDamage(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l, p, s, g := partitionPair(t, "10.247.0", false)
	vip := l.addr(10)
	w := watchVIP(t, vip, p, s)

	const hold = 10 * time.Second
	cut := time.Now()
	heal := cutBetween(p, s)
	s.waitState(0, "FAILOVER_ACTIVE", 15*time.Second)
	takeover := time.Now()
	time.Sleep(hold)
	if got := owners(vip, p, s); len(got) != 2 {
		t.Fatalf("during the cut the VIP is on %v; without a witness both sides should hold it (or the test cut nothing)", got)
	}
	// A client may still point at the loser when the cut heals (it
	// resolved the VIP from a broadcast the loser answered first): make
	// this one do so, so that the heal is measured at its worst. The
	// loser releases at the first heartbeat; the winner must announce at
	// once, not at its next refresh, or the client waits.
	forced := time.Now()
	l.client.IP("neigh", "replace", vip.String(), "lladdr", p.ns.HardwareAddr("eth0").String(), "dev", "eth0", "nud", "reachable")
	healed := time.Now()
	heal()
	netnstest.Eventually(t, 10*time.Second, "one owner after the heal", func() bool {
		got := owners(vip, p, s)
		return len(got) == 1 && got[0] == s.name
	})
	p.waitState(0, "TERMINATED", 10*time.Second)
	time.Sleep(2 * time.Second) // the client keeps asking after the heal
	sum := g.stop()
	logEpisodes(t, sum)

	dual, _ := w.dual(cut, healed)
	flips := g.flips(cut, forced)
	stepDown := w.released(p.name, healed).Sub(healed)
	t.Logf("full cut of %v without witness: dual ownership %v (takeover %v after the cut), %d flips of the client during the cut, loser released the VIP %v after the heal, longest client wait %v (%v while the prober kept its schedule)",
		healed.Sub(cut).Round(time.Millisecond), dual.Round(time.Millisecond), takeover.Sub(cut).Round(time.Millisecond), flips,
		stepDown.Round(time.Millisecond), sum.MaxWait, sum.MaxWaitUnstalled)
	// One flip is the takeover; more means the two holders keep taking
	// the client from each other.
	if flips > 2 {
		t.Errorf("the client's traffic flipped %d times during a %v cut, want at most 2 (no flip storm)", flips, hold)
	}
	if w.released(p.name, healed).IsZero() || stepDown > 2*time.Second {
		t.Errorf("the primary released the VIP %v after the heal; want it at the first heartbeat", stepDown)
	}
	// Back to the winner once (the test pointed the client at the loser).
	if after := g.flips(forced, time.Now()); after > 2 {
		t.Errorf("the client flipped %d times from the heal on, want 2 (to the loser by the test, back to the winner)", after)
	}
	if sum.MaxWaitUnstalled >= maxClientGap {
		t.Errorf("a client waited %v through the cut and the heal, want < %v", sum.MaxWaitUnstalled, maxClientGap)
	}
	if evs, _ := p.hactl("events"); !strings.Contains(evs, "Split brain detected") {
		t.Errorf("the primary's events do not report the split brain:\n%s", evs)
	}
	if t.Failed() {
		for _, f := range g.lines("from") {
			t.Logf("client answered from %s at %s (cut %s, heal %s)", f.name, f.at.Format("15:04:05.000"), cut.Format("15:04:05.000"), healed.Format("15:04:05.000"))
		}
	}
}

// TestFullCutWithWitnessHasOneOwner: the same full cut with a witness
// that still reaches both nodes: the witness hears the primary, so the
// secondary never takes over and the VIP never has two owners, and the
// client is never moved nor kept waiting.
func TestFullCutWithWitnessHasOneOwner(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l, p, s, g := partitionPair(t, "10.248.0", true)
	vip := l.addr(10)
	w := watchVIP(t, vip, p, s)

	cut := time.Now()
	heal := cutBetween(p, s)
	netnstest.Eventually(t, 10*time.Second, "the secondary to see heartbeats down", func() bool {
		return s.status().Peers[0].Heartbeat == "Down"
	})
	time.Sleep(6 * time.Second) // six failover waits
	healed := time.Now()
	heal()
	heartbeatsBack(t, s)
	time.Sleep(time.Second)
	sum := g.stop()
	logEpisodes(t, sum)

	dual, adds := w.dual(cut, time.Now())
	flips := g.flips(cut, time.Now())
	t.Logf("full cut of %v with a witness: dual ownership %v, VIP added by the secondary %d times, %d flips, longest client wait %v (%v while the prober kept its schedule)",
		healed.Sub(cut).Round(time.Millisecond), dual, adds[s.name], flips, sum.MaxWait, sum.MaxWaitUnstalled)
	if dual != 0 || adds[s.name] != 0 {
		t.Errorf("both nodes held the VIP for %v (the secondary added it %d times); with a witness there must be one owner", dual, adds[s.name])
	}
	if flips != 0 || sum.ByName[s.name] != 0 {
		t.Errorf("the client was moved %d times (%d answers from the secondary)", flips, sum.ByName[s.name])
	}
	if sum.MaxWaitUnstalled >= maxClientGap {
		t.Errorf("a client waited %v, want < %v", sum.MaxWaitUnstalled, maxClientGap)
	}
	if evs, _ := s.hactl("events"); !strings.Contains(evs, "the witness still sees the peer") {
		t.Errorf("the secondary's events do not say why it did not take over:\n%s", evs)
	}
	if got := owners(vip, p, s); len(got) != 1 || got[0] != p.name {
		t.Errorf("after the heal the VIP is on %v, want only %s", got, p.name)
	}
}
