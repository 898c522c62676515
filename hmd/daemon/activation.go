package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/refusal"
)

// Every hmd can delete its own activation license and, as a primary, ask
// its secondary to delete its own.
var _ api.ActivationBackend = (*Daemon)(nil)

// RemoveActivation implements api.ActivationBackend. A running pair is not
// broken by it: the activation license is what pairing checks, so the
// appliance keeps its pair and the next pairing asks for a license again.
func (d *Daemon) RemoveActivation(ctx context.Context) (api.LicenseResult, error) {
	if d.opt.RemoveActivation == nil {
		return api.LicenseResult{}, refusal.New(refusal.Unsupported, "this appliance cannot delete licenses through its API")
	}
	removed, err := d.opt.RemoveActivation()
	if err != nil {
		return api.LicenseResult{}, fmt.Errorf("delete the activation license: %w", err)
	}
	if len(removed) == 0 {
		return api.LicenseResult{}, refusal.New(refusal.NotActivated, "%s holds no activation license: nothing to delete", d.opt.Config.Hostname)
	}
	ids := make([]string, len(removed))
	for i, l := range removed {
		ids[i] = l.ID
	}
	d.log.Info("activation license deleted through the API", "ids", ids)
	d.recheckNow()
	info, err := d.Identify(ctx)
	if err != nil {
		return api.LicenseResult{}, err
	}
	msg := fmt.Sprintf("Activation license %s deleted from %s; its activation status is now %s.", strings.Join(ids, ", "), info.Name, info.Activation)
	return api.LicenseResult{Message: msg, Identity: info}, nil
}

// DeactivateSecondary implements api.ActivationBackend: the secondary at
// the pinned certificate deletes its own activation license, and its
// refusal (none installed) comes back as its own.
func (d *Daemon) DeactivateSecondary(ctx context.Context, req api.DeactivateRequest) (api.LicenseResult, error) {
	ip := netip.MustParseAddr(req.SecondaryIP) // validated by the decoder
	c := d.remote(ip, req.SecondaryFingerprint, req.SecondaryPassword)
	defer c.CloseIdleConnections()
	res, err := c.RemoveActivation(ctx)
	if err != nil {
		return api.LicenseResult{}, relay(ip, err, secondarySide)
	}
	return res, nil
}
