package vip

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hafw/hafw/osnet"
)

// fakeNet is an in-memory interface: its address list and the
// announcements sent, with one IP whose sends always fail.
type fakeNet struct {
	mu       sync.Mutex
	addrs    []osnet.Addr
	sent     map[netip.Addr]int
	failing  netip.Addr
	probeMAC net.HardwareAddr
}

func (f *fakeNet) AddSecondary(_ string, p netip.Prefix, label string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.addrs {
		if a.Prefix == p {
			return nil
		}
	}
	f.addrs = append(f.addrs, osnet.Addr{Prefix: p, Label: label})
	return nil
}

func (f *fakeNet) RemoveSecondary(_ string, p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, a := range f.addrs {
		if a.Prefix == p {
			f.addrs = append(f.addrs[:i], f.addrs[i+1:]...)
			break
		}
	}
	return nil
}

func (f *fakeNet) Addrs(string) ([]osnet.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]osnet.Addr(nil), f.addrs...), nil
}

func (f *fakeNet) Announce(ip netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ip == f.failing {
		return errors.New("link down")
	}
	f.sent[ip]++
	return nil
}

func (f *fakeNet) Burst(ctx context.Context, ip netip.Addr, count int, gap time.Duration) error {
	for range count {
		_ = f.Announce(ip)
	}
	return nil
}

func (f *fakeNet) Refresh(ctx context.Context, ip netip.Addr, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			_ = f.Announce(ip)
		}
	}
}

func (f *fakeNet) Probe(context.Context, netip.Addr, netip.Addr, time.Duration) ([]net.HardwareAddr, error) {
	if f.probeMAC == nil {
		return nil, nil
	}
	return []net.HardwareAddr{f.probeMAC}, nil
}

func (f *fakeNet) count(ip netip.Addr) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent[ip]
}

func newExec(f *fakeNet) *Executor {
	return &Executor{Interface: "eth0", Addrs: f, Announcer: f, Prober: f, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		BurstCount: 3, RefreshEvery: 10 * time.Millisecond}
}

func TestReconcileRemovesOnlyUnownedVIPs(t *testing.T) {
	own := netip.MustParsePrefix("10.210.0.2/24")
	stale := netip.MustParsePrefix("10.210.0.10/24")
	held := netip.MustParsePrefix("10.210.0.11/24")
	f := &fakeNet{sent: map[netip.Addr]int{}, addrs: []osnet.Addr{{Prefix: own, Label: "eth0"}, {Prefix: stale, Label: "eth0:1"}}}
	e := newExec(f)
	defer e.Close()
	if err := e.Hold(held); err != nil {
		t.Fatal(err)
	}
	if err := e.Reconcile([]netip.Prefix{stale, held}); err != nil {
		t.Fatal(err)
	}
	got, _ := f.Addrs("eth0")
	if len(got) != 2 || got[0].Prefix != own || got[1].Prefix != held || got[1].Label != "eth0:1" {
		t.Fatalf("after reconcile: %+v, want own address and the held VIP", got)
	}
	if err := e.Release(held); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Addrs("eth0"); len(got) != 1 {
		t.Fatalf("after release: %+v", got)
	}
}

func TestOneFailingVIPDoesNotStopAnother(t *testing.T) {
	good := netip.MustParsePrefix("10.210.0.10/24")
	bad := netip.MustParsePrefix("10.210.0.11/24")
	f := &fakeNet{sent: map[netip.Addr]int{}, failing: bad.Addr()}
	e := newExec(f)
	defer e.Close()
	for _, v := range []netip.Prefix{bad, good} {
		if err := e.Hold(v); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for f.count(good.Addr()) < 3+5 {
		if time.Now().After(deadline) {
			t.Fatalf("good VIP announced %d times, want a burst of 3 and refreshes", f.count(good.Addr()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := e.Release(good); err != nil {
		t.Fatal(err)
	}
	n := f.count(good.Addr())
	time.Sleep(50 * time.Millisecond)
	if f.count(good.Addr()) != n {
		t.Fatal("released VIP is still announced")
	}
}

func TestOwner(t *testing.T) {
	f := &fakeNet{sent: map[netip.Addr]int{}}
	e := newExec(f)
	ip := netip.MustParseAddr("10.210.0.10")
	if o, err := e.Owner(context.Background(), ip); err != nil || o != "" {
		t.Fatalf("free VIP: %q %v", o, err)
	}
	f.probeMAC = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	if o, _ := e.Owner(context.Background(), ip); o != "02:00:00:00:00:01" {
		t.Fatalf("owner = %q", o)
	}
	if !e.Reachable(context.Background(), ip, netip.MustParseAddr("10.210.0.2")) {
		t.Fatal("answering host not reachable")
	}
}

// TestQuietKeepsTheVIPWithoutAnnouncing: a quiet VIP stays on the
// interface (Reconcile keeps it) but is no longer announced; Hold
// announces it again, at once and periodically.
func TestQuietKeepsTheVIPWithoutAnnouncing(t *testing.T) {
	vip := netip.MustParsePrefix("10.210.0.10/24")
	f := &fakeNet{sent: map[netip.Addr]int{}}
	e := newExec(f)
	defer e.Close()
	if err := e.Hold(vip); err != nil {
		t.Fatal(err)
	}
	waitCount := func(min int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for f.count(vip.Addr()) < min {
			if time.Now().After(deadline) {
				t.Fatalf("announced %d times, want at least %d", f.count(vip.Addr()), min)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitCount(3 + 2)
	e.Quiet(vip)
	time.Sleep(30 * time.Millisecond) // an announcement already under way
	n := f.count(vip.Addr())
	time.Sleep(100 * time.Millisecond) // ten refresh periods
	if got := f.count(vip.Addr()); got != n {
		t.Fatalf("a quiet VIP was announced %d more times", got-n)
	}
	if err := e.Reconcile([]netip.Prefix{vip}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Addrs("eth0"); len(got) != 1 || got[0].Prefix != vip {
		t.Fatalf("a quiet VIP left the interface: %+v", got)
	}
	if err := e.Hold(vip); err != nil {
		t.Fatal(err)
	}
	waitCount(n + 3 + 2)
	e.Quiet(netip.MustParsePrefix("10.210.0.99/24")) // not held: nothing happens
}
