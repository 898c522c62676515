package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/hafw/hafw/hmd/api"
)

// runRecover is the management station's "restore from secondary", run on
// the secondary: it pushes the stored pairing back to a primary that lost
// its configuration and booted in recovery mode.
func runRecover(ctx context.Context, c *api.Client, args []string, stdout, stderr io.Writer) error {
	fs := flags("recover", stderr)
	var req api.RecoverRequest
	fs.StringVar(&req.PrimaryIP, "primary", "", "the recovering primary's health monitor `IP`")
	fs.StringVar(&req.PrimaryPassword, "primary-password", os.Getenv("HAFW_PRIMARY_PASSWORD"), "the primary's appliance `password` (default $HAFW_PRIMARY_PASSWORD)")
	fs.StringVar(&req.PrimaryFingerprint, "fingerprint", "", "pin the primary's new API certificate (SHA-256 hex; default trust on first use)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if req.PrimaryIP == "" {
		return usageError("--primary is required")
	}
	res, err := c.Recover(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.Message)
	return nil
}
