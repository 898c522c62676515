package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/hafw/hafw/hmd/api"
)

// runRecover is the management station's "restore from secondary". Run on
// the secondary with --primary, it pushes the stored pairing back to a
// primary that lost its configuration and booted in recovery mode; run on
// that primary with --secondary, it asks the secondary to do so (what the
// console's Recovery page does).
func runRecover(ctx context.Context, c *api.Client, args []string, stdout, stderr io.Writer) error {
	fs := flags("recover", stderr)
	var req api.RecoverRequest
	var from api.RecoverFromRequest
	fs.StringVar(&req.PrimaryIP, "primary", "", "on the secondary: the recovering primary's health monitor `IP`")
	fs.StringVar(&from.SecondaryIP, "secondary", "", "on the recovering primary: the secondary's health monitor `IP`")
	fs.StringVar(&req.PrimaryPassword, "primary-password", os.Getenv("HAFW_PRIMARY_PASSWORD"), "the primary's appliance `password` (default $HAFW_PRIMARY_PASSWORD)")
	fs.StringVar(&from.SecondaryPassword, "secondary-password", os.Getenv("HAFW_SECONDARY_PASSWORD"), "with --secondary: the secondary's appliance `password` (default $HAFW_SECONDARY_PASSWORD)")
	var fp string
	fs.StringVar(&fp, "fingerprint", "", "pin the other side's API certificate (SHA-256 hex, as `hactl status` there shows it): with --primary the primary's new one, with --secondary the secondary's")
	fs.BoolVar(&req.TrustOnFirstUse, "trust-on-first-use", false, "with --primary: pin whatever certificate the primary presents now, unconfirmed")
	if err := parse(fs, args); err != nil {
		return err
	}
	var res api.Result
	var err error
	switch {
	case (req.PrimaryIP == "") == (from.SecondaryIP == ""):
		return usageError("--primary is required (on the secondary), or --secondary (on the recovering primary)")
	case from.SecondaryIP != "":
		from.SecondaryFingerprint, from.PrimaryPassword = fp, req.PrimaryPassword
		res, err = c.RecoverFromSecondary(ctx, from)
	default:
		req.PrimaryFingerprint = fp
		if fp == "" && !req.TrustOnFirstUse {
			// Show what the primary presents and restore nothing.
			return unconfirmed(presented(ctx, c, "the recovering primary", req.PrimaryIP, req.PrimaryPassword, "--fingerprint"))
		}
		res, err = c.Recover(ctx, req)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.Message)
	return nil
}
