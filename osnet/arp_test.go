package osnet

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hafw/hafw/internal/netnstest"
)

// arpLab is three hosts on one bridge: old holds the VIP at the start,
// next takes it over, client talks to it.
type arpLab struct {
	old, next, client *netnstest.NS
	vip               netip.Prefix
}

func newARPLab(t testing.TB) *arpLab {
	br := netnstest.NewBridge(t, "sw")
	l := &arpLab{
		old:    netnstest.New(t, "old"),
		next:   netnstest.New(t, "next"),
		client: netnstest.New(t, "client"),
		vip:    mustPrefix("10.205.0.100/24"),
	}
	for i, ns := range []*netnstest.NS{l.old, l.client, l.next} {
		br.Attach(ns, "eth0")
		ns.AddAddr("eth0", netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 205, 0, byte(i + 1)}), 24))
	}
	l.old.IP("addr", "add", l.vip.String(), "dev", "eth0", "label", "eth0:1")
	return l
}

func dialARPIn(t testing.TB, ns *netnstest.NS) *ARP {
	t.Helper()
	var a *ARP
	ns.MustDo(func() error {
		var err error
		a, err = DialARP("eth0", testLogger(t))
		return err
	})
	t.Cleanup(func() { a.Close() })
	return a
}

// talkTo makes ns resolve ip the way a real client does: by sending to it.
func talkTo(t *testing.T, ns *netnstest.NS, ip netip.Addr) {
	t.Helper()
	ns.MustDo(func() error {
		c, err := net.Dial("udp4", netip.AddrPortFrom(ip, 9).String())
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("hello"))
		return err
	})
}

func waitNeighbour(t *testing.T, ns *netnstest.NS, ip netip.Addr, want net.HardwareAddr, what string) {
	t.Helper()
	netnstest.Eventually(t, 3*time.Second, what, func() bool {
		mac, err := ns.NeighbourMAC("eth0", ip)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Equal(mac, want)
	})
}

// TestGratuitousARPMovesClient checks each gratuitous form on its own, then
// the burst: after each, the client's existing neighbour entry for the VIP
// points at the new holder (arp_accept stays 0, as on real clients).
func TestGratuitousARPMovesClient(t *testing.T) {
	l := newARPLab(t)
	vip := l.vip.Addr()
	oldMAC, nextMAC := l.old.HardwareAddr("eth0"), l.next.HardwareAddr("eth0")
	talkTo(t, l.client, vip)
	waitNeighbour(t, l.client, vip, oldMAC, "client to resolve the VIP to old")

	moveVIP := func(from, to *netnstest.NS) {
		from.IP("addr", "del", l.vip.String(), "dev", "eth0")
		h := hostIn(t, to)
		if err := h.AddSecondary("eth0", l.vip, "eth0:1"); err != nil {
			t.Fatal(err)
		}
	}
	nextARP, oldARP := dialARPIn(t, l.next), dialARPIn(t, l.old)

	frames, err := garpFrames(nextMAC, vip)
	if err != nil {
		t.Fatal(err)
	}
	moveVIP(l.old, l.next)
	if err := nextARP.send(frames[0]); err != nil {
		t.Fatal(err)
	}
	waitNeighbour(t, l.client, vip, nextMAC, "the request form to move the VIP to next")

	frames, err = garpFrames(oldMAC, vip)
	if err != nil {
		t.Fatal(err)
	}
	moveVIP(l.next, l.old)
	if err := oldARP.send(frames[1]); err != nil {
		t.Fatal(err)
	}
	waitNeighbour(t, l.client, vip, oldMAC, "the reply form to move the VIP back to old")

	moveVIP(l.old, l.next)
	if err := nextARP.Burst(context.Background(), vip, 3, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitNeighbour(t, l.client, vip, nextMAC, "the burst to move the VIP to next")
}

// TestRefreshAnnouncesUntilCancelled moves the client with Refresh alone and
// checks that it stops when its context ends.
func TestRefreshAnnouncesUntilCancelled(t *testing.T) {
	l := newARPLab(t)
	vip := l.vip.Addr()
	talkTo(t, l.client, vip)
	waitNeighbour(t, l.client, vip, l.old.HardwareAddr("eth0"), "client to resolve the VIP to old")
	l.old.IP("addr", "del", l.vip.String(), "dev", "eth0")
	l.next.IP("addr", "add", l.vip.String(), "dev", "eth0")
	a := dialARPIn(t, l.next)
	if err := a.Refresh(context.Background(), vip, 0); err == nil {
		t.Fatal("a zero refresh period was accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Refresh(ctx, vip, 50*time.Millisecond) }()
	waitNeighbour(t, l.client, vip, l.next.HardwareAddr("eth0"), "refreshes to move the VIP to next")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Refresh did not stop after its context ended")
	}
}

// TestDrainEmptiesTheQueue: every frame queued before a probe is taken
// out, however late the prober runs. The old drain read with 1 ms
// deadlines, which a busy machine let pass before the read looked at the
// queue: TestProbe then took a stale announcement for an answer.
func TestDrainEmptiesTheQueue(t *testing.T) {
	l := newARPLab(t)
	a := dialARPIn(t, l.next)
	old := dialARPIn(t, l.old)
	for range 50 {
		if err := old.Announce(l.vip.Addr()); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	// A read deadline in the past, as the last probe leaves it.
	if err := a.conn.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := a.drain(); err != nil {
		t.Fatal(err)
	}
	a.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _, err := a.conn.ReadFrom(make([]byte, 1500)); err == nil {
		t.Fatalf("a %d-byte frame was still queued after drain", n)
	}
}

func TestProbe(t *testing.T) {
	l := newARPLab(t)
	oldMAC := l.old.HardwareAddr("eth0")
	a := dialARPIn(t, l.next)
	ctx := context.Background()

	// The VIP check: an RFC 5227 probe (sender 0.0.0.0) finds the holder.
	start := time.Now()
	owners, err := a.Probe(ctx, l.vip.Addr(), netip.Addr{}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(owners) != 1 || !bytes.Equal(owners[0], oldMAC) {
		t.Fatalf("owners %v, want [%v]", owners, oldMAC)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("probe with an answer took %v of its 5 s timeout; it should return soon after the answer", took)
	}

	// The gateway vote: probe with our own address as sender.
	owners, err = a.Probe(ctx, mustAddr("10.205.0.1"), mustAddr("10.205.0.3"), time.Second)
	if err != nil || len(owners) != 1 || !bytes.Equal(owners[0], oldMAC) {
		t.Fatalf("gateway probe: %v, %v", owners, err)
	}

	// Nobody holds .99; our own address does not count as another owner.
	for _, ip := range []string{"10.205.0.99", "10.205.0.3"} {
		start = time.Now()
		owners, err = a.Probe(ctx, mustAddr(ip), netip.Addr{}, 300*time.Millisecond)
		if err != nil || len(owners) != 0 {
			t.Fatalf("probe %s: %v, %v; want no owner", ip, owners, err)
		}
		if took := time.Since(start); took < 250*time.Millisecond || took > 3*time.Second {
			t.Errorf("probe %s without an answer took %v, want about the 300 ms timeout", ip, took)
		}
	}

	// A stale announcement queued before the probe is not an answer: old
	// announces the VIP, then gives it up; the probe must find nobody.
	oldARP := dialARPIn(t, l.old)
	if err := oldARP.Announce(l.vip.Addr()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	l.old.IP("addr", "del", l.vip.String(), "dev", "eth0")
	owners, err = a.Probe(ctx, l.vip.Addr(), netip.Addr{}, 200*time.Millisecond)
	if err != nil || len(owners) != 0 {
		t.Fatalf("after old gave up the VIP: %v, %v; a stale frame was taken as an answer", owners, err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := a.Probe(cctx, mustAddr("10.205.0.99"), netip.Addr{}, time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled probe: %v", err)
	}
	if _, err := a.Probe(ctx, netip.MustParseAddr("fd00::1"), netip.Addr{}, time.Second); err == nil {
		t.Fatal("IPv6 target accepted")
	}
}

// BenchmarkProbeOwner measures the pre-claim VIP check when another node
// holds the VIP: request out, answer back, across veths and a bridge. hmd
// adds this to its takeover time when it probes before claiming.
func BenchmarkProbeOwner(b *testing.B) {
	l := newARPLab(b)
	a := dialARPIn(b, l.next)
	ctx := context.Background()
	for b.Loop() {
		owners, err := a.Probe(ctx, l.vip.Addr(), netip.Addr{}, time.Second)
		if err != nil || len(owners) != 1 {
			b.Fatalf("probe: %v, %v", owners, err)
		}
	}
}
