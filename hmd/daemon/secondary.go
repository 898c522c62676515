package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/refusal"
	"github.com/hafw/hafw/licensing"
)

// Every hmd can show its identity, take a license, and, as a primary,
// inspect and activate its future secondary.
var _ api.SecondaryBackend = (*Daemon)(nil)

// LicenseInstaller verifies a license file against this appliance's UDI
// and the vendor key and installs it; a refused file changes nothing.
type LicenseInstaller func(data []byte) (licensing.License, error)

// Identify implements api.SecondaryBackend.
func (d *Daemon) Identify(context.Context) (api.IdentityInfo, error) {
	activated, err := d.opt.Activated()
	if err != nil {
		return api.IdentityInfo{}, fmt.Errorf("check the activation license: %w", err)
	}
	info := api.IdentityInfo{
		Name: d.opt.Config.Hostname, Role: string(d.opt.Config.Role),
		UDI: d.opt.UDI, Profile: d.opt.Profile.Model, Version: d.opt.Version,
		Activation: api.StatusNotActivated,
	}
	if d.hip.IsValid() {
		info.HIP = d.hip.String()
	}
	if activated {
		info.Activation = api.StatusActivated
	}
	return info, nil
}

// InstallLicense implements api.SecondaryBackend. A license the store
// refuses (wrong UDI, bad signature, expired, malformed) is refused with
// the store's one-line reason on the form's license field.
func (d *Daemon) InstallLicense(ctx context.Context, req api.LicenseRequest) (api.LicenseResult, error) {
	if d.opt.InstallLicense == nil {
		return api.LicenseResult{}, refusal.New(refusal.Unsupported, "this appliance cannot install licenses through its API")
	}
	l, err := d.opt.InstallLicense([]byte(req.License))
	if err != nil {
		if !isLicenseRefusal(err) {
			return api.LicenseResult{}, fmt.Errorf("install the license: %w", err)
		}
		return api.LicenseResult{}, refusal.New(refusal.LicenseRefused, "%v", err).On("license")
	}
	d.log.Info("license installed through the API", "id", l.ID, "feature", l.Feature)
	d.recheckNow()
	info, err := d.Identify(ctx)
	if err != nil {
		return api.LicenseResult{}, err
	}
	msg := fmt.Sprintf("License %s (%s, count %d) installed on %s.", l.ID, l.Feature.Label(), l.Count, info.Name)
	return api.LicenseResult{Message: msg, Identity: info}, nil
}

// isLicenseRefusal tells a license the store refused from a failure to
// store a good one.
func isLicenseRefusal(err error) bool {
	for _, reason := range []error{licensing.ErrMalformed, licensing.ErrUnknownFeature, licensing.ErrBadSignature, licensing.ErrWrongUDI, licensing.ErrExpired} {
		if errors.Is(err, reason) {
			return true
		}
	}
	return false
}

// InspectSecondary implements api.SecondaryBackend: the primary's form asks
// the future secondary who it is and whether it is activated.
func (d *Daemon) InspectSecondary(ctx context.Context, req api.SecondaryRequest) (api.IdentityInfo, error) {
	ip := netip.MustParseAddr(req.SecondaryIP) // validated by the decoder
	c := d.remote(ip, req.SecondaryFingerprint, req.SecondaryPassword)
	defer c.CloseIdleConnections()
	info, err := c.Identify(ctx)
	if err != nil {
		return api.IdentityInfo{}, relay(ip, err, secondarySide)
	}
	info.Fingerprint = c.SeenFingerprint()
	return info, nil
}

// LicenseSecondary implements api.SecondaryBackend: the license goes to the
// secondary, which verifies it against its own UDI; its refusal comes back
// on the license field.
func (d *Daemon) LicenseSecondary(ctx context.Context, req api.SecondaryLicenseRequest) (api.LicenseResult, error) {
	ip := netip.MustParseAddr(req.SecondaryIP)
	c := d.remote(ip, req.SecondaryFingerprint, req.SecondaryPassword)
	defer c.CloseIdleConnections()
	res, err := c.InstallLicense(ctx, api.LicenseRequest{License: req.License})
	if err != nil {
		return api.LicenseResult{}, relay(ip, err, secondarySide)
	}
	return res, nil
}
