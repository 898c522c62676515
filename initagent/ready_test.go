package initagent

import (
	"net/netip"
	"testing"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/osnet"
)

func TestReadyLine(t *testing.T) {
	r := Ready{Host: "mse-a", Profile: "VA-Low", Role: config.RolePrimary, Eth0: "10.210.0.5/24", Eth1: "none", Activated: true}
	const want = "hafw-ready: host=mse-a profile=VA-Low role=primary eth0=10.210.0.5/24 eth1=none license=activated"
	if got := r.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	r.Activated = false
	if got := r.String(); got[len(got)-len("license=not-activated"):] != "license=not-activated" {
		t.Errorf("got %q", got)
	}
}

func TestPortReport(t *testing.T) {
	addr := netip.MustParsePrefix("10.210.0.5/24")
	for _, tc := range []struct {
		name string
		st   osnet.Status
		want string
	}{
		{"eth0", osnet.Status{State: osnet.StateConfigured, Address: addr}, "10.210.0.5/24"},
		{"eth0", osnet.Status{State: osnet.StateDown}, "down"},
		{"eth0", osnet.Status{State: osnet.StateDHCPPending, DHCP: true}, "dhcp-pending"},
		{"eth0", osnet.Status{State: osnet.StateDisabled}, "down"},
		{"eth1", osnet.Status{State: osnet.StateDisabled}, "none"},
		{"eth1", osnet.Status{State: osnet.StateConfigured, Address: addr}, "10.210.0.5/24"},
	} {
		if got := PortReport(tc.name, tc.st); got != tc.want {
			t.Errorf("PortReport(%s, %+v) = %q, want %q", tc.name, tc.st, got, tc.want)
		}
	}
}
