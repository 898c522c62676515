package daemon

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/refusal"
	"github.com/hafw/hafw/hmd/store"
	"github.com/hafw/hafw/hwprofiles"
)

func secondaryConfig() config.Appliance {
	a := config.Default()
	a.Hostname, a.Role = "mse2", config.RoleSecondary
	a.Eth0 = config.Interface{Enabled: true, Address: netip.MustParsePrefix("10.10.10.13/24"), Gateway: netip.MustParseAddr("10.10.10.1")}
	return a
}

func TestCheckPair(t *testing.T) {
	prof := func(m string) hwprofiles.Profile {
		p, err := hwprofiles.Lookup(m)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	req := api.PeerPairRequest{PrimaryName: "mse1", PrimaryHIP: "10.10.10.12", VIP: "10.10.10.11/24", Version: "8.0.110.0", Profile: "3310"}
	base := pairCheck{own: secondaryConfig(), version: "8.0.110.0", profile: prof("3355"), activated: true, req: req}
	existing3350 := []store.PeerConfig{{HIP: netip.MustParseAddr("10.10.10.22"), VIP: netip.MustParsePrefix("10.10.10.21/24"), Profile: "3350", InstanceSlot: 3}}
	const accepted refusal.Reason = -1
	cases := []struct {
		name   string
		edit   func(c *pairCheck)
		want   string // substring of the refusal; "" = accepted
		field  string
		reason refusal.Reason
	}{
		{"1:1 accepted", func(*pairCheck) {}, "", "", accepted},
		{"N:1 3310+3350 on a 3355", func(c *pairCheck) { c.existing = existing3350 }, "", "", accepted},
		{"not a secondary", func(c *pairCheck) { c.own.Role = config.RolePrimary }, "not configured as a secondary", "secondary_ip", refusal.WrongRole},
		{"version differs", func(c *pairCheck) { c.version = "8.0.120.0" }, "same software version", "", refusal.VersionMismatch},
		{"matrix 1:1", func(c *pairCheck) { c.profile = prof("3310"); c.req.Profile = "3350" }, "cannot back up", "", refusal.UnsupportedPairing},
		{"matrix N:1 on a 3350", func(c *pairCheck) { c.profile = prof("3350"); c.existing = existing3350 }, "cannot back up", "", refusal.UnsupportedPairing},
		{"third primary", func(c *pairCheck) {
			c.existing = append(existing3350, store.PeerConfig{HIP: netip.MustParseAddr("10.10.10.17"), VIP: netip.MustParsePrefix("10.10.10.18/24"), Profile: "3310", InstanceSlot: 4})
		}, "at most 2", "", refusal.UnsupportedPairing},
		{"already paired", func(c *pairCheck) {
			c.existing = []store.PeerConfig{{HIP: netip.MustParseAddr("10.10.10.12"), VIP: netip.MustParsePrefix("10.10.10.11/24"), Profile: "3310"}}
		}, "already paired", "", refusal.AlreadyPaired},
		{"VA without activation", func(c *pairCheck) {
			c.profile, c.req.Profile, c.activated = prof("VA-High"), "VA-Low", false
		}, "activated with a Virtual Appliance license", "", refusal.NotActivated},
		{"VIP is the secondary HIP", func(c *pairCheck) { c.req.VIP = "10.10.10.13/24" }, "must differ", "secondary_ip", refusal.Addressing},
		{"VIP off subnet", func(c *pairCheck) { c.req.VIP = "10.10.20.11/24" }, "subnet", "secondary_ip", refusal.Addressing},
		{"same HIP", func(c *pairCheck) { c.req.PrimaryHIP = "10.10.10.13" }, "same health-monitor IP", "secondary_ip", refusal.Addressing},
		{"witness on the subnet", func(c *pairCheck) { c.req.Witness = "10.10.10.40" }, "", "", accepted},
		{"N:1: the other primary as witness", func(c *pairCheck) { c.existing, c.req.Witness = existing3350, "10.10.10.22" }, "", "", accepted},
		{"N:1 with the new primary on a direct cable", func(c *pairCheck) { c.existing, c.req.PrimaryDirectIP = existing3350, "1.1.1.1" }, "direct connect is not available in a 2:1", "", refusal.UnsupportedPairing},
		{"N:1 with the first pair on a direct cable", func(c *pairCheck) {
			c.existing = []store.PeerConfig{existing3350[0]}
			c.existing[0].DirectIP = netip.MustParseAddr("1.1.1.2")
		}, "direct connect is not available in a 2:1", "", refusal.UnsupportedPairing},
		{"1:1 on a direct cable", func(c *pairCheck) { c.req.PrimaryDirectIP = "1.1.1.1" }, "", "", accepted},
		{"witness off the subnet", func(c *pairCheck) { c.req.Witness = "10.10.20.40" }, "not on the secondary's health-monitor subnet", "witness", refusal.Addressing},
		{"witness is the secondary", func(c *pairCheck) { c.req.Witness = "10.10.10.13" }, "third node", "witness", refusal.Addressing},
		{"witness is the primary", func(c *pairCheck) { c.req.Witness = "10.10.10.12" }, "third node", "witness", refusal.Addressing},
		{"witness is the VIP", func(c *pairCheck) { c.req.Witness = "10.10.10.11" }, "third node", "witness", refusal.Addressing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			err := checkPair(c)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var re *refusal.Error
			if !errors.As(err, &re) || re.Reason != tc.reason || !strings.Contains(re.Message, tc.want) {
				t.Fatalf("got %v, want a refusal (%s) containing %q", err, tc.reason, tc.want)
			}
			if tc.field != "" && (len(re.Fields) != 1 || re.Fields[0].Name != tc.field) {
				t.Fatalf("fields %+v, want %s", re.Fields, tc.field)
			}
		})
	}
}

func TestSlotsAndInstanceNames(t *testing.T) {
	if s := freeSlot(nil); s != 3 {
		t.Fatalf("first slot %d", s)
	}
	if s := freeSlot([]store.PeerConfig{{InstanceSlot: 4}}); s != 3 {
		t.Fatalf("slot after unpair %d", s)
	}
	if s := freeSlot([]store.PeerConfig{{InstanceSlot: 3}}); s != 4 {
		t.Fatalf("second slot %d", s)
	}
	// The seed's two views of slot 3 and the secondary's view of slot 4.
	db, port, dg, alias := instanceNames(3, true)
	if db != "mseos3s" || port != 1624 || dg != "dg_mse3" || alias != "mseop3s" {
		t.Fatal(db, port, dg, alias)
	}
	db, port, dg, alias = instanceNames(4, false)
	if db != "mseos4" || port != 1525 || dg != "dg_mse4" || alias != "mseop4s" {
		t.Fatal(db, port, dg, alias)
	}
}
