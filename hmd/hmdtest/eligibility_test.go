package hmdtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
	"github.com/hafw/hafw/licensing"
)

// TestUnlicensedVirtualPrimaryHoldsNoVIP: a virtual appliance (VA-Low)
// configured as a primary, with no activation license, started as the init
// agent starts hmd, takes no HA role: over a bounded time longer than it
// used to take to claim (4 s) it never holds its VIP, and its status, its
// gethainfo and its events log say why. Installing the activation license
// (vendor key and license file, as hafw license install leaves them) gives
// it the role and the VIP without a restart; removing it takes them again.
func TestUnlicensedVirtualPrimaryHoldsNoVIP(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l := newLAN(t, "10.249.0")
	p := l.addNode("mse1", 2, config.RolePrimary, "VA-Low", 10)
	vip := l.addr(10)

	deadline := time.Now().Add(6 * time.Second)
	for time.Now().Before(deadline) {
		if p.hasAddr(vip) {
			t.Fatalf("the unlicensed virtual primary holds its VIP; status %+v\n%s", p.status(), p.proc.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	st := p.status()
	if st.State == "PRIMARY_ACTIVE" || st.HARole != "none" || st.RoleReason != "not-activated" {
		t.Fatalf("status: state %s, ha_role %q, role_reason %q; want no role, not-activated", st.State, st.HARole, st.RoleReason)
	}
	if out := p.gethainfo(); !strings.Contains(out, "HA role: none (virtual appliance not activated)") {
		t.Errorf("gethainfo does not say why:\n%s", out)
	}
	if evs, _ := p.hactl("events"); !strings.Contains(evs, "HA role withdrawn") || !strings.Contains(evs, "not activated") {
		t.Errorf("events log does not say why:\n%s", evs)
	}

	// The activation license for the UDI hmd reports.
	udi, err := licensing.ParseUDI(st.UDI)
	if err != nil {
		t.Fatalf("status UDI %q: %v", st.UDI, err)
	}
	pub, priv, err := licensing.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := licensing.WritePublicKey(filepath.Join(p.dir, "no-key"), pub); err != nil {
		t.Fatal(err)
	}
	data, err := licensing.Issue(priv, licensing.License{Feature: licensing.Activation, Count: 1, UDI: udi, Issued: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (licensing.Store{Dir: filepath.Join(p.dir, "licenses"), Pub: pub, UDI: udi}).Install(data); err != nil {
		t.Fatal(err)
	}
	netnstest.Eventually(t, 15*time.Second, "the licensed primary to hold its VIP", func() bool { return p.hasAddr(vip) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err = p.api().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "PRIMARY_ACTIVE" || st.HARole != "primary" || st.RoleReason != "configured" {
		t.Errorf("licensed: state %s, ha_role %q, role_reason %q", st.State, st.HARole, st.RoleReason)
	}
	if evs, _ := p.hactl("events"); !strings.Contains(evs, "HA role granted") {
		t.Errorf("events log does not record the role granted:\n%s", evs)
	}

	// The license removed: the role and the VIP go again.
	if err := os.RemoveAll(filepath.Join(p.dir, "licenses")); err != nil {
		t.Fatal(err)
	}
	netnstest.Eventually(t, 15*time.Second, "the primary without its license to release its VIP", func() bool { return !p.hasAddr(vip) })
	if st := p.status(); st.HARole != "none" || st.RoleReason != "not-activated" {
		t.Errorf("license removed: ha_role %q, role_reason %q", st.HARole, st.RoleReason)
	}
}
