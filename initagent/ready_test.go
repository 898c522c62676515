package initagent

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/hafw/hafw/config"
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
	static := config.Interface{Enabled: true, Address: netip.MustParsePrefix("10.210.0.5/24")}
	dhcp := config.Interface{Enabled: true, DHCP: true}
	leased := PortStatus{Address: netip.MustParsePrefix("10.210.0.77/24")}
	for _, tc := range []struct {
		name string
		c    config.Interface
		st   PortStatus
		err  error
		want string
	}{
		{"eth0", static, PortStatus{Address: static.Address}, nil, "10.210.0.5/24"},
		{"eth0", static, PortStatus{}, errors.New("no such link"), "down"},
		{"eth0", dhcp, PortStatus{DHCPPending: true}, nil, "dhcp-pending"},
		{"eth0", dhcp, leased, nil, "10.210.0.77/24"},
		{"eth0", config.Interface{}, PortStatus{}, nil, "down"},
		{"eth1", config.Interface{}, PortStatus{}, nil, "none"},
	} {
		if got := PortReport(tc.name, tc.c, tc.st, tc.err); got != tc.want {
			t.Errorf("PortReport(%s, %+v, %+v, %v) = %q, want %q", tc.name, tc.c, tc.st, tc.err, got, tc.want)
		}
	}
}
