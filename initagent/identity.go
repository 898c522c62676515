package initagent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hafw/hafw/board"
	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/licensing"
)

// profileOverride is the first of: hafw.profile= on the kernel command
// line, the configuration's profile, the image's /etc/hafw/profile.
func (a *Agent) profileOverride(b *bootState) string {
	if b.cmdline.Profile != "" {
		return b.cmdline.Profile
	}
	if b.cfg.Profile != "" {
		return b.cfg.Profile
	}
	data, err := os.ReadFile(filepath.Join(a.Paths.Etc, "profile"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// stepIdentity determines the profile and the UDI with board.
func stepIdentity(_ context.Context, a *Agent, b *bootState) error {
	b.profile = "unknown"
	pl, err := board.Detect(a.Board, b.cfg.Hostname, a.profileOverride(b))
	if err != nil {
		return fmt.Errorf("identify the appliance: %w", err)
	}
	b.platform, b.profile, b.udi = pl, pl.Profile.Model, pl.UDI.String()
	a.Log.Info("appliance identity", "profile", b.profile, "udi", b.udi, "hypervisor", pl.Hypervisor, "overridden", pl.Overridden)
	return nil
}

// stepLicenses verifies the installed licenses against the image's vendor
// key and this appliance's UDI. Without a known profile nothing can be
// activated.
func stepLicenses(_ context.Context, a *Agent, b *bootState) error {
	if b.udi == "" {
		return errors.New("no UDI, so no license can be verified")
	}
	pub, err := licensing.ReadPublicKey(filepath.Join(a.Paths.Etc, "vendor.pub"))
	if err != nil {
		return fmt.Errorf("read vendor key: %w", err)
	}
	store := licensing.Store{Dir: a.Paths.Layout().LicenseDir(), Pub: pub, UDI: b.platform.UDI}
	valid, problems, err := store.LoadVerified()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read licenses: %w", err)
	}
	for _, p := range problems {
		a.consolef("hafw-init: warning: license ignored: %v", p)
	}
	b.activated = licensing.Summarize(b.platform.Profile, valid).Activated()
	if !b.activated {
		// The administrator needs the UDI to obtain the activation license:
		// show it where the first-boot console is read.
		a.consolef("hafw-license: NOT ACTIVATED. UDI of this appliance: %s", b.udi)
		a.consolef("hafw-license: install the activation license for this UDI with setup (file, paste or URL) or: hafw license install --udi %s FILE", b.udi)
	}
	return nil
}

// stepRole decides the role actually taken. Recovery mode and a virtual
// appliance without activation license take none; hmd still runs.
func stepRole(_ context.Context, a *Agent, b *bootState) error {
	b.role = b.cfg.Role
	b.recovery = b.cmdline.Recovery || b.cfg.RecoveryMode
	if b.recovery {
		why := "configuration"
		if b.cmdline.Recovery {
			why = "kernel command line hafw.recovery"
		}
		a.consolef("hafw-recovery: recovery mode requested by %s", why)
		a.consolef("hafw-recovery: no HA role is taken; the network comes up and hmd restores this primary's configuration from its secondary")
		b.role = config.RoleNone
		return nil
	}
	if !b.activated && b.role != config.RoleNone {
		a.consolef("hafw-init: this appliance is not activated (no valid activation license in %s): "+
			"it may not take the HA %s role; hmd runs with no role until a license is installed",
			a.Paths.Layout().LicenseDir(), b.role)
		b.role = config.RoleNone
	}
	return nil
}
