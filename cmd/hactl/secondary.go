package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/hafw/hafw/hmd/api"
)

// runSecondary is the pairing form's secondary part on the command line,
// run on a primary: "inspect" shows the future secondary's UDI, model,
// version and activation status; "license" installs its activation license
// through this primary (the secondary verifies it against its own UDI);
// "deactivate" deletes its activation license (the seed's "Delete
// Secondary Activation license"; the certificate must be pinned).
func runSecondary(ctx context.Context, c *api.Client, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "inspect" && args[0] != "license" && args[0] != "deactivate") {
		return usageError("secondary needs an action: inspect, license or deactivate")
	}
	action := args[0]
	fs := flags("secondary "+action, stderr)
	var req api.SecondaryRequest
	fs.StringVar(&req.SecondaryIP, "secondary", "", "the secondary's health monitor `IP`")
	fs.StringVar(&req.SecondaryPassword, "secondary-password", os.Getenv("HAFW_SECONDARY_PASSWORD"), "secondary's appliance `password` (default $HAFW_SECONDARY_PASSWORD)")
	fs.StringVar(&req.SecondaryFingerprint, "fingerprint", "", "pin the secondary's API certificate (SHA-256 hex; default trust on first use)")
	var file string
	if action == "license" {
		fs.StringVar(&file, "file", "", "the license `file` for the secondary")
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if req.SecondaryIP == "" {
		return usageError("--secondary is required")
	}
	if action == "inspect" {
		info, err := c.InspectSecondary(ctx, req)
		if err != nil {
			return err
		}
		printIdentity(stdout, info)
		return nil
	}
	if action == "deactivate" {
		res, err := c.DeactivateSecondary(ctx, api.DeactivateRequest{SecondaryRequest: req})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, res.Message)
		printIdentity(stdout, res.Identity)
		return nil
	}
	if file == "" {
		return usageError("--file is required")
	}
	text, err := readLicense(file)
	if err != nil {
		return err
	}
	res, err := c.LicenseSecondary(ctx, api.SecondaryLicenseRequest{SecondaryRequest: req, License: text})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.Message)
	printIdentity(stdout, res.Identity)
	return nil
}

// readLicense reads a license file, refusing one larger than any license.
func readLicense(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read the license: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, api.MaxLicenseText+1))
	if err != nil {
		return "", fmt.Errorf("read the license %s: %w", path, err)
	}
	if len(data) > api.MaxLicenseText {
		return "", fmt.Errorf("%s is larger than a license file can be (%d bytes)", path, api.MaxLicenseText)
	}
	return string(data), nil
}

func printIdentity(w io.Writer, i api.IdentityInfo) {
	fmt.Fprintf(w, "Secondary device name:       %s\n", i.Name)
	fmt.Fprintf(w, "Secondary IP address:        %s\n", i.HIP)
	fmt.Fprintf(w, "Secondary platform UDI:      %s\n", i.UDI)
	fmt.Fprintf(w, "Device type, version, role:  %s, %s, %s\n", i.Profile, i.Version, i.Role)
	fmt.Fprintf(w, "Secondary activation status: %s\n", i.Activation)
}
