package osnet

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/netnstest"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// tWriter sends log lines to t.Log, so they show only for failing tests.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// hostIn creates a Host bound to ns and closes it at the end of the test.
func hostIn(t *testing.T, ns *netnstest.NS, opts ...HostOption) *Host {
	t.Helper()
	var h *Host
	ns.MustDo(func() error {
		var err error
		h, err = NewHost(testLogger(t), opts...)
		return err
	})
	t.Cleanup(func() { h.Close() })
	return h
}

// twoNodes is a node namespace with eth0 cabled straight to a peer's eth0.
func twoNodes(t *testing.T) (node, peer *netnstest.NS) {
	node, peer = netnstest.New(t, "node"), netnstest.New(t, "peer")
	netnstest.Veth(node, "eth0", peer, "eth0")
	return node, peer
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }

func TestConfigureStatic(t *testing.T) {
	node, _ := twoNodes(t)
	h := hostIn(t, node)
	ctx := context.Background()

	st, err := h.Configure(ctx, "eth0", config.Interface{Enabled: true, Address: mustPrefix("10.203.0.2/24"), Gateway: mustAddr("10.203.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateConfigured || st.ReadyField() != "10.203.0.2/24" || !st.Carrier {
		t.Fatalf("status %+v", st)
	}
	// Check with ip(8), not with our own code.
	if out := node.IP("-4", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(out, "inet 10.203.0.2/24") {
		t.Fatalf("address not applied: %s", out)
	}
	if out := node.IP("route", "show", "default"); !strings.Contains(out, "default via 10.203.0.1 dev eth0") {
		t.Fatalf("default route not applied: %q", out)
	}
	if gw, err := h.DefaultGateway("eth0"); err != nil || gw != mustAddr("10.203.0.1") {
		t.Fatalf("DefaultGateway = %v, %v", gw, err)
	}

	// Reconfigure: the old address and gateway are replaced, not added to.
	if _, err := h.Configure(ctx, "eth0", config.Interface{Enabled: true, Address: mustPrefix("10.203.0.7/25")}); err != nil {
		t.Fatal(err)
	}
	out := node.IP("-4", "-o", "addr", "show", "dev", "eth0")
	if strings.Contains(out, "10.203.0.2/") || !strings.Contains(out, "inet 10.203.0.7/25") {
		t.Fatalf("reconfigure left %s", out)
	}
	if out := node.IP("route", "show", "default"); strings.TrimSpace(out) != "" {
		t.Fatalf("default route survived removal of the gateway: %q", out)
	}

	// Disable: down, no address, "none" on the ready line.
	st, err = h.Configure(ctx, "eth0", config.Interface{})
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateDisabled || st.ReadyField() != "none" {
		t.Fatalf("disabled status %+v", st)
	}
	if out := node.IP("-4", "-o", "addr", "show", "dev", "eth0"); strings.TrimSpace(out) != "" {
		t.Fatalf("disabled port keeps %s", out)
	}
	if ls, err := h.Link("eth0"); err != nil || ls.Up {
		t.Fatalf("disabled port is up: %+v %v", ls, err)
	}
}

func TestConfigureErrors(t *testing.T) {
	node, _ := twoNodes(t)
	h := hostIn(t, node)
	st, err := h.Configure(context.Background(), "eth9", config.Interface{Enabled: true, Address: mustPrefix("10.203.0.2/24")})
	if !errors.Is(err, ErrNoLink) || st.ReadyField() != "down" {
		t.Fatalf("unknown port: %+v, %v", st, err)
	}
	if _, err := h.Configure(context.Background(), "eth0", config.Interface{Enabled: true}); err == nil {
		t.Fatal("static port without an address was accepted")
	}
	if err := h.AddSecondary("eth0", mustPrefix("10.203.0.100/24"), "eth1:1"); err == nil {
		t.Fatal("label of another interface was accepted")
	}
	if err := h.AddSecondary("eth0", mustPrefix("10.203.0.100/24"), "eth0:verylonglabel"); err == nil {
		t.Fatal("over-long label was accepted")
	}
}

// TestVIPSurvivesReconfigure is the hmd contract: the labelled VIP can be
// added twice and removed twice, and a reconfiguration of the port's own
// address does not take it away.
func TestVIPSurvivesReconfigure(t *testing.T) {
	node, _ := twoNodes(t)
	h := hostIn(t, node)
	ctx := context.Background()
	cfg := config.Interface{Enabled: true, Address: mustPrefix("10.203.0.2/24")}
	if _, err := h.Configure(ctx, "eth0", cfg); err != nil {
		t.Fatal(err)
	}
	vip := mustPrefix("10.203.0.100/24")
	for range 2 {
		if err := h.AddSecondary("eth0", vip, "eth0:1"); err != nil {
			t.Fatal(err)
		}
	}
	if out := node.IP("-4", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(out, "inet 10.203.0.100/24") || !strings.Contains(out, "eth0:1") {
		t.Fatalf("VIP not labelled eth0:1: %s", out)
	}
	if _, err := h.Configure(ctx, "eth0", cfg); err != nil {
		t.Fatal(err)
	}
	addrs, err := h.Addrs("eth0")
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, a := range addrs {
		if a.Prefix == vip {
			found = a.Label == "eth0:1" && a.Secondary
		}
	}
	if !found {
		t.Fatalf("VIP lost or not secondary after reconfigure: %+v", addrs)
	}
	// A new address in the same subnet: the kernel drops secondaries with
	// the old primary; Configure must put the VIP back.
	if _, err := h.Configure(ctx, "eth0", config.Interface{Enabled: true, Address: mustPrefix("10.203.0.9/24")}); err != nil {
		t.Fatal(err)
	}
	if out := node.IP("-4", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(out, "inet 10.203.0.100/24") || !strings.Contains(out, "inet 10.203.0.9/24") || strings.Contains(out, "10.203.0.2/") {
		t.Fatalf("after changing the port's address: %s", out)
	}
	for range 2 {
		if err := h.RemoveSecondary("eth0", vip); err != nil {
			t.Fatal(err)
		}
	}
	if out := node.IP("-4", "-o", "addr", "show", "dev", "eth0"); strings.Contains(out, "10.203.0.100") || !strings.Contains(out, "10.203.0.9/24") {
		t.Fatalf("after removal: %s", out)
	}
}

// TestCarrier pulls the cable (the peer end goes down) and plugs it back:
// the direct-connect state hmd sees follows.
func TestCarrier(t *testing.T) {
	node, peer := twoNodes(t)
	h := hostIn(t, node)
	if err := h.SetLink("eth0", true); err != nil {
		t.Fatal(err)
	}
	peer.IP("link", "set", "eth0", "down")
	netnstest.Eventually(t, 2*time.Second, "carrier loss", func() bool {
		ls, err := h.Link("eth0")
		return err == nil && ls.Up && !ls.Carrier
	})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if err := h.WaitCarrier(ctx, "eth0"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitCarrier without a cable: %v", err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		if _, err := peer.TryIP("link", "set", "eth0", "up"); err != nil {
			t.Error(err)
		}
	}()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	if err := h.WaitCarrier(ctx2, "eth0"); err != nil {
		t.Fatalf("carrier did not come back: %v", err)
	}
}
