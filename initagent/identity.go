package initagent

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/hafw/hafw/appliance"
	"github.com/hafw/hafw/hmd/store"
)

// stepIdentity resolves the profile and the UDI (package appliance: the
// kernel command line's hafw.profile=, else the configuration's, else the
// image's, else the hardware).
func stepIdentity(_ context.Context, a *Agent, b *bootState) error {
	b.profile = "unknown"
	id, err := appliance.Resolve(appliance.Sources{Board: a.Board, Cmdline: b.cmdline, Config: b.cfg, ProfileFile: filepath.Join(a.Paths.Etc, "profile")})
	if err != nil {
		return err
	}
	b.identity, b.profile, b.udi = id, id.Profile.Model, id.UDI.String()
	a.Log.Info("appliance identity", "profile", b.profile, "from", id.Source, "udi", b.udi, "hypervisor", id.Hypervisor)
	return nil
}

// licenseFiles are the installed licenses and the image's vendor key.
func (a *Agent) licenseFiles() appliance.LicenseFiles {
	return appliance.LicenseFiles{Dir: a.Paths.Layout().LicenseDir(), VendorKey: filepath.Join(a.Paths.Etc, "vendor.pub")}
}

// stepLicenses verifies the installed licenses against the image's vendor
// key and this appliance's UDI. Without a known identity nothing can be
// activated.
func stepLicenses(_ context.Context, a *Agent, b *bootState) error {
	if b.udi == "" {
		return fmt.Errorf("no UDI, so no license can be verified")
	}
	ent, err := a.licenseFiles().Load(b.identity)
	b.entitlement, b.activated = ent, ent.Activated()
	for _, p := range ent.Problems {
		a.consolef("hafw-init: warning: license ignored: %v", p)
	}
	if !b.activated {
		// The administrator needs the UDI to obtain the activation license:
		// show it where the first-boot console is read.
		a.consolef("hafw-license: NOT ACTIVATED. UDI of this appliance: %s", b.udi)
		a.consolef("hafw-license: install the activation license for this UDI with setup (file, paste or URL) or: hafw license install --udi %s FILE", b.udi)
	}
	return err
}

// stepRole decides the role actually taken (appliance.DecideRole, the rule
// hmd applies too): recovery mode without a stored pairing, and an
// appliance that is not activated or not identified, take none; hmd still
// runs.
func stepRole(_ context.Context, a *Agent, b *bootState) error {
	peers, _, err := store.Store{Dir: a.Paths.Layout().HMDDir()}.LoadChecked()
	if err != nil {
		// Undecidable: recovery mode stays on if asked for.
		a.consolef("hafw-init: warning: read hmd's pairings: %v", err)
	}
	d := appliance.DecideRole(b.cfg, b.entitlement, b.cmdline.Recovery, len(peers) > 0)
	b.decision, b.role, b.recovery = d, d.Role, d.Recovery
	switch d.Reason {
	case appliance.Recovery:
		why := "configuration"
		if b.cmdline.Recovery {
			why = "kernel command line hafw.recovery"
		}
		a.consolef("hafw-recovery: recovery mode requested by %s", why)
		a.consolef("hafw-recovery: no HA role is taken; the network comes up and hmd restores this primary's configuration from its secondary")
	case appliance.RecoveryComplete:
		a.consolef("hafw-recovery: %s", d.Reason.Text())
	case appliance.NotActivated:
		a.consolef("hafw-init: %s: this appliance is not activated (no valid activation license in %s) and may not take the HA %s role; "+
			"hmd runs with no role until a license is installed", d, a.Paths.Layout().LicenseDir(), b.cfg.Role)
	case appliance.IdentityUnknown:
		a.consolef("hafw-init: %s: set a profile override (hafw.profile=MODEL) to run as an appliance", d)
	}
	return nil
}
