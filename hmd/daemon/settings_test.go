package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/hmd/refusal"
	"github.com/hafw/hafw/hmd/store"
	"github.com/hafw/hafw/internal/tlsid"
)

// node is one daemon of an in-process pair on loopback addresses, with
// its remote API on its health-monitor address (the peer channel always
// uses api.Port).
type node struct {
	d   *Daemon
	id  tlsid.Identity
	dir string
	srv *http.Server
}

// loopbackPair runs a primary and its secondary, already paired, on two
// loopback addresses that no other test uses.
func loopbackPair(t *testing.T) (primary, secondary *node) {
	t.Helper()
	pIP, sIP := netip.MustParseAddr("127.83.41.2"), netip.MustParseAddr("127.83.41.3")
	port := freeUDPPort(t)
	vip := netip.MustParsePrefix("10.9.0.10/24")
	secret := []byte("0123456789abcdef0123456789abcdef")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	mk := func(name string, role config.Role, self, peer netip.Addr) *node {
		n := &node{dir: t.TempDir()}
		var err error
		if n.id, err = tlsid.LoadOrCreate(n.dir+"/tls", name); err != nil {
			t.Fatal(err)
		}
		app := config.Default()
		app.Hostname, app.Role = name, role
		if role == config.RolePrimary {
			app.VIP = vip
		}
		app.Eth0 = config.Interface{Enabled: true, Address: netip.PrefixFrom(self, 8)}
		pc := store.PeerConfig{Name: "peer", HIP: peer, VIP: vip, FailoverType: ha.Manual, FailbackType: ha.Manual,
			FailoverWait: 2 * time.Second, HeartbeatInterval: 400 * time.Millisecond, Secret: secret, InstanceSlot: 3}
		if err := (store.Store{Dir: n.dir}).Save(store.Peer{Config: pc}); err != nil {
			t.Fatal(err)
		}
		n.d, err = New(Options{Config: app, StateDir: n.dir, Version: "1.0", Identity: n.id, VIP: noVIP{}, HeartbeatPort: port,
			RemoteTimeout: 5 * time.Second, Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", netip.AddrPortFrom(self, api.Port).String())
		if err != nil {
			t.Fatal(err)
		}
		auth := &api.Password{Hash: func() string { return "" }, Check: config.CheckPassword}
		n.srv = api.ServeRemote(ln, api.NewHandler(n.d, auth, quiet), n.id.ServerTLS(), nil, api.Limits{})
		t.Cleanup(func() { n.srv.Close() })
		return n
	}
	primary = mk("mse1", config.RolePrimary, pIP, sIP)
	secondary = mk("mse2", config.RoleSecondary, sIP, pIP)
	// Each pins the other's certificate, as pairing left them.
	for _, pair := range [][2]*node{{primary, secondary}, {secondary, primary}} {
		pair[0].d.peers[0].cfg.Fingerprint = pair[1].id.Fingerprint
	}
	for _, n := range []*node{primary, secondary} {
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- n.d.Run(ctx, nil) }()
		t.Cleanup(func() {
			stop()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	return primary, secondary
}

// settingsSeen is the pair's settings as n's status shows them ("" when
// n has no peer).
func settingsSeen(t *testing.T, n *node) string {
	t.Helper()
	st, err := n.d.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Peers) == 0 {
		return ""
	}
	p := st.Peers[0]
	return fmt.Sprintf("failover %s, failback %s, wait %dms, interval %dms, witness %q", p.FailoverType, p.FailbackType, p.FailoverWaitMS, p.HeartbeatIntervalMS, p.Witness)
}

func settingsRequest(t *testing.T, body string) api.SettingsRequest {
	t.Helper()
	req, err := api.Decode[api.SettingsRequest](strings.NewReader(body))
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return req
}

// updated is n's newest "Configuration updated" row (heartbeat and sync
// rows come and go around it).
func updated(t *testing.T, n *node) string {
	t.Helper()
	evs, err := n.d.Events(context.Background(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Description == MsgConfigurationUpdated {
			return e.Description + " | " + e.GeneratedBy + " | " + e.Remarks
		}
	}
	return ""
}

// TestSettingsChangeOnBothSides: a change made on either side is taken by
// the peer first, then by this side, stored and logged on both with the
// seed's wording; a refused change — by this side's checks, by the peer,
// or with the peer unreachable — changes nothing on either side.
func TestSettingsChangeOnBothSides(t *testing.T) {
	primary, secondary := loopbackPair(t)
	ctx := context.Background()

	res, err := primary.d.UpdateSettings(ctx, settingsRequest(t, `{"failover_type":"automatic","long_failover_wait":"1s"}`))
	if err != nil {
		t.Fatal(err)
	}
	const remarks = "Failover mode set to AUTOMATIC. Long failover wait set to 1 second. Heartbeat interval set to 200 ms."
	if !strings.Contains(res.Message, remarks) {
		t.Errorf("result %q does not say %q", res.Message, remarks)
	}
	want := `failover automatic, failback manual, wait 1000ms, interval 200ms, witness ""`
	for _, n := range []*node{primary, secondary} {
		if got := settingsSeen(t, n); got != want {
			t.Errorf("%s: %s, want %s", n.d.opt.Config.Hostname, got, want)
		}
		stored, err := n.d.store.Load()
		if err != nil || len(stored) != 1 || stored[0].Config.FailoverWait != time.Second || stored[0].Node.Config.FailoverType != ha.Automatic {
			t.Errorf("%s stored %+v %v", n.d.opt.Config.Hostname, stored, err)
		}
	}
	if got := updated(t, primary); got != "Configuration updated | Primary | "+remarks {
		t.Errorf("primary's event %q", got)
	}
	if got := updated(t, secondary); got != "Configuration updated | Secondary | "+remarks {
		t.Errorf("secondary's event %q", got)
	}

	// From the secondary's side.
	if _, err := secondary.d.UpdateSettings(ctx, settingsRequest(t, `{"failback_type":"automatic"}`)); err != nil {
		t.Fatal(err)
	}
	want = `failover automatic, failback automatic, wait 1000ms, interval 200ms, witness ""`
	for _, n := range []*node{primary, secondary} {
		if got := settingsSeen(t, n); got != want {
			t.Errorf("%s: %s, want %s", n.d.opt.Config.Hostname, got, want)
		}
	}

	// The heartbeats run on with the new timing.
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := primary.d.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Peers[0].Heartbeat == "Up" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("heartbeats not up after the change: %+v", st.Peers[0])
		}
		time.Sleep(100 * time.Millisecond)
	}

	unchanged := func(what string) {
		t.Helper()
		for _, n := range []*node{primary, secondary} {
			if got := settingsSeen(t, n); got != want {
				t.Errorf("after %s, %s: %s, want %s unchanged", what, n.d.opt.Config.Hostname, got, want)
			}
		}
	}
	for _, tc := range []struct {
		name, body, field string
		reason            refusal.Reason
	}{
		{"interval not below the wait", `{"heartbeat_interval":"900ms"}`, "heartbeat_interval", -1},
		{"wait out of range", `{"long_failover_wait":"20m"}`, "long_failover_wait", -1},
		{"witness off the subnet", `{"witness":"10.9.0.40","witness_password":"pw","witness_fingerprint":"` + strings.Repeat("ab", 32) + `"}`, "witness", refusal.Addressing},
		{"the peer as witness", `{"witness":"127.83.41.3","witness_password":"pw","witness_fingerprint":"` + strings.Repeat("ab", 32) + `"}`, "witness", refusal.Addressing},
		{"unknown peer", `{"peer":"127.83.41.9","failover_type":"manual"}`, "peer", refusal.UnknownPeer},
	} {
		_, err := primary.d.UpdateSettings(ctx, settingsRequest(t, tc.body))
		ae := api.FromValidation(err)
		if err == nil || len(ae.Fields) != 1 || ae.Fields[0].Field != tc.field || (tc.reason >= 0 && !isRefusal(err, tc.reason)) {
			t.Errorf("%s: %v, want a refusal of %s", tc.name, err, tc.field)
		}
		unchanged(tc.name)
	}

	// The peer refuses: it no longer knows this primary.
	if _, err := secondary.d.PeerUnpair(ctx, primary.id.Fingerprint); err != nil {
		t.Fatal(err)
	}
	_, err = primary.d.UpdateSettings(ctx, settingsRequest(t, `{"failover_type":"manual"}`))
	if !isRefusal(err, refusal.PeerRefused) || !strings.Contains(err.Error(), "nothing was changed here") {
		t.Errorf("peer refusal: %v", err)
	}
	if got := settingsSeen(t, primary); got != want {
		t.Errorf("after the peer's refusal the primary has %s, want %s", got, want)
	}

	// The peer is unreachable.
	secondary.srv.Close()
	_, err = primary.d.UpdateSettings(ctx, settingsRequest(t, `{"failover_type":"manual"}`))
	if !isRefusal(err, refusal.PeerUnreachable) {
		t.Errorf("peer unreachable: %v", err)
	}
	if got := settingsSeen(t, primary); got != want {
		t.Errorf("with the peer unreachable the primary has %s, want %s", got, want)
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		t.Errorf("unreachable reported as the peer's own answer %v", ae)
	}
}
