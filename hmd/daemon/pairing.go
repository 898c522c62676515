package daemon

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/refusal"
	"github.com/hafw/hafw/hmd/store"
	"github.com/hafw/hafw/hwprofiles"
)

// firstSlot is the instance number of a secondary's first pair: the seed's
// gethainfo shows mseos3 / port 1524 for it and mseos4 / 1525 for the second.
const firstSlot = 3

// ActivationRequired is the seed's message when a virtual secondary has no
// activation license.
const ActivationRequired = "Secondary MSE needs to be activated with a Virtual Appliance license. Add a license and save the config."

// pairCheck is what a secondary knows when a primary asks to pair: its own
// configuration and identity, the primaries it already backs, and the
// request. checkPair is pure so that every refusal is a table test.
type pairCheck struct {
	own       config.Appliance
	version   string
	profile   hwprofiles.Profile
	activated bool
	existing  []store.PeerConfig
	req       api.PeerPairRequest
}

// DirectConnectNotIn2to1 refuses a second primary when either pairing uses
// the direct-connect cable: the seed's 2:1 scenario has none.
const DirectConnectNotIn2to1 = "direct connect is not available in a 2:1 configuration: a secondary that backs up two primaries is paired with both over the network (configure no direct-connect interface for this pair, or delete the other pair's direct connect first)"

// checkPair applies the seed's pairing rules on the secondary: role,
// version equality, the pairing matrices (1:1 and N:1 with the primaries
// already paired; no direct connect in N:1), the VA activation license, and the addressing rules
// (VIP differs from both health-monitor IPs and lies on the secondary's
// health-monitor subnet, so the secondary can take it over). It returns nil
// or a *refusal.Error naming the operator's form field where there is one.
func checkPair(c pairCheck) error {
	refuse := func(reason refusal.Reason, field, format string, a ...any) error {
		return refusal.New(reason, format, a...).On(field)
	}
	if c.own.Role != config.RoleSecondary {
		return refuse(refusal.WrongRole, "secondary_ip", "%s is not configured as a secondary (role %s); run setup on it first", c.own.Hostname, c.own.Role)
	}
	if c.req.Version != c.version {
		return refuse(refusal.VersionMismatch, "", "the primary runs version %s and this secondary %s: both must run the same software version", c.req.Version, c.version)
	}
	primaryHIP := netip.MustParseAddr(c.req.PrimaryHIP)
	vip := netip.MustParsePrefix(c.req.VIP)
	for _, p := range c.existing {
		if p.HIP == primaryHIP {
			return refuse(refusal.AlreadyPaired, "", "already paired with the primary %s; delete the secondary first to pair again", primaryHIP)
		}
		if p.VIP.Addr() == vip.Addr() {
			return refuse(refusal.Addressing, "", "virtual IP %s is already served for the primary %s", vip.Addr(), p.HIP)
		}
	}
	primaryProfile, err := hwprofiles.Lookup(c.req.Profile)
	if err != nil {
		return refuse(refusal.UnsupportedPairing, "", "the primary's model: %v", err)
	}
	primaries := []hwprofiles.Profile{primaryProfile}
	for _, p := range c.existing {
		prof, err := hwprofiles.Lookup(p.Profile)
		if err != nil {
			return refuse(refusal.UnsupportedPairing, "", "stored peer %s: %v", p.HIP, err)
		}
		primaries = append(primaries, prof)
	}
	if err := hwprofiles.CheckPairing(c.profile, primaries...); err != nil {
		return refuse(refusal.UnsupportedPairing, "", "%v", err)
	}
	if len(c.existing) > 0 && (c.req.PrimaryDirectIP != "" || slices.ContainsFunc(c.existing, func(p store.PeerConfig) bool { return p.DirectIP.IsValid() })) {
		// The seed, on the 2:1 scenario: 直接接続は利用できません.
		return refuse(refusal.UnsupportedPairing, "", "%s", DirectConnectNotIn2to1)
	}
	if !c.activated {
		return refuse(refusal.NotActivated, "", "%s", ActivationRequired)
	}
	hm, err := c.own.Port(c.own.HealthMonitorInterface)
	if err != nil || !hm.Static() {
		return refuse(refusal.NoStaticAddress, "secondary_ip", "this secondary has no static health-monitor address")
	}
	ownHIP := hm.Address.Addr()
	switch {
	case primaryHIP == ownHIP:
		return refuse(refusal.Addressing, "secondary_ip", "the primary and the secondary have the same health-monitor IP %s", ownHIP)
	case vip.Addr() == ownHIP || vip.Addr() == primaryHIP:
		return refuse(refusal.Addressing, "secondary_ip", "the virtual IP %s must differ from both health-monitor IPs", vip.Addr())
	case !hm.Address.Masked().Contains(vip.Addr()) || !hm.Address.Masked().Contains(primaryHIP):
		return refuse(refusal.Addressing, "secondary_ip", "the secondary's health-monitor subnet %s must hold the primary %s and its virtual IP %s (layer 2 redundancy only)", hm.Address.Masked(), primaryHIP, vip.Addr())
	}
	return checkWitness(c.req.Witness, ownHIP, primaryHIP, vip.Addr(), hm.Address.Masked(), "the secondary's")
}

// checkWitness is the rule for a pair's witness (validated by the
// decoder; "" is none), wherever it is set: a third node — neither of
// the two health-monitor IPs nor the VIP — on the health-monitor subnet,
// because the witness judges by reaching the primary on it and answers
// only for addresses on its own subnet. whose names the subnet's owner in
// the refusal.
func checkWitness(witness string, a, b, vip netip.Addr, subnet netip.Prefix, whose string) error {
	if witness == "" {
		return nil
	}
	switch w := netip.MustParseAddr(witness); {
	case w == a || w == b || w == vip:
		return refusal.New(refusal.Addressing, "the witness %s must be a third node, not the primary, the secondary or the virtual IP", w).On("witness")
	case !subnet.Contains(w):
		return refusal.New(refusal.Addressing, "the witness %s is not on %s health-monitor subnet %s", w, whose, subnet).On("witness")
	}
	return nil
}

// freeSlot is the lowest instance slot no existing pair uses.
func freeSlot(existing []store.PeerConfig) int {
	used := map[int]bool{}
	for _, p := range existing {
		used[p.InstanceSlot] = true
	}
	s := firstSlot
	for used[s] {
		s++
	}
	return s
}

// instanceNames are the seed's instance identifiers for a slot, as seen
// from the primary (mseos3s, 1624) or the secondary (mseos3, 1524).
func instanceNames(slot int, onPrimary bool) (db string, port int, dataguard, alias string) {
	db, port = fmt.Sprintf("mseos%d", slot), 1521+slot
	if onPrimary {
		db, port = db+"s", 1621+slot
	}
	return db, port, fmt.Sprintf("dg_mse%d", slot), fmt.Sprintf("mseop%ds", slot)
}
