package daemon

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/hmd/heartbeat"
	"github.com/hafw/hafw/hmd/store"
)

// noVIP is a VIP executor that owns nothing and sees nobody.
type noVIP struct{}

func (noVIP) Hold(netip.Prefix) error                                { return nil }
func (noVIP) Release(netip.Prefix) error                             { return nil }
func (noVIP) Quiet(netip.Prefix)                                     {}
func (noVIP) Reconcile([]netip.Prefix) error                         { return nil }
func (noVIP) Owner(context.Context, netip.Addr) (string, error)      { return "", nil }
func (noVIP) Reachable(context.Context, netip.Addr, netip.Addr) bool { return true }

// freeUDPPort is a port free on both loopback addresses of the test.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestHeartbeatsStartWithTheRestoredState: a primary killed while
// PRIMARY_ACTIVE restarts; its saved node says it holds the VIP, which this
// run does not until the state machine says so. Its peer, heartbeating
// every millisecond so that it would catch any early message, must never
// hear the saved state — a split brain that is not there.
func TestHeartbeatsStartWithTheRestoredState(t *testing.T) {
	self, peerIP := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")
	port := freeUDPPort(t)
	vip := netip.MustParsePrefix("10.9.0.10/24")
	secret := []byte("0123456789abcdef0123456789abcdef")
	dir := t.TempDir()
	pc := store.PeerConfig{Name: "mse2", HIP: peerIP, VIP: vip, FailoverType: ha.Automatic, FailbackType: ha.Manual,
		FailoverWait: time.Second, HeartbeatInterval: 200 * time.Millisecond, Secret: secret, InstanceSlot: 3}
	saved := ha.Node{State: ha.PrimaryActive, HoldsVIP: true, Epoch: 2, InstanceRunning: true, Peer: ha.PeerView{Up: true, State: ha.SecondaryActive}}
	if err := (store.Store{Dir: dir}).Save(store.Peer{Config: pc, Node: saved}); err != nil {
		t.Fatal(err)
	}

	pair := self.String() + "/" + peerIP.String()
	mon, err := heartbeat.New(heartbeat.Config{Node: peerIP.String(), Interval: time.Millisecond, FailoverWait: 100 * time.Millisecond,
		Paths: []heartbeat.Path{{Name: "hm", Local: netip.AddrPortFrom(peerIP, uint16(port))}},
		Peers: []heartbeat.Peer{{Pair: pair, Node: self.String(), Secret: secret,
			Remotes: map[string]netip.AddrPort{"hm": netip.AddrPortFrom(self, uint16(port))}}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	heard := make(chan heartbeat.Event, 1024)
	peerCtx, stopPeer := context.WithCancel(context.Background())
	defer stopPeer()
	go func() { _ = mon.Run(peerCtx, heard) }()

	app := config.Default()
	app.Hostname, app.Role, app.VIP = "mse1", config.RolePrimary, vip
	app.Eth0 = config.Interface{Enabled: true, Address: netip.PrefixFrom(self, 8)}
	d, err := New(Options{Config: app, StateDir: dir, VIP: noVIP{}, HeartbeatPort: port, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, nil) }()

	// The monitor reports a peer's state when it changes: every state
	// the primary advertised is among these events.
	deadline, heardOnce := time.After(10*time.Second), false
	for wait := true; wait; {
		select {
		case e := <-heard:
			hb, ok := e.Event.(ha.Heartbeat)
			if !ok {
				continue
			}
			if hb.HoldsVIP || hb.State == ha.PrimaryActive {
				t.Fatalf("the restarted primary advertised %s holding the VIP %v: its saved state, not what it holds", hb.State, hb.HoldsVIP)
			}
			if !heardOnce {
				heardOnce, deadline = true, time.After(500*time.Millisecond)
			}
		case <-deadline:
			if !heardOnce {
				t.Fatal("the restarted primary was never heard")
			}
			wait = false
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
