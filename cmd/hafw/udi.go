package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/hafw/hafw/board"
	"github.com/hafw/hafw/internal/cli"
)

// runUDI prints this machine's UDI and detected profile. Exit status: 0 when
// the machine is an appliance (or a profile override was given), 1 with a
// one-line reason when it is not (for example a KVM build machine) or the
// platform cannot be read, 2 for a usage error.
func runUDI(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("udi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", "/", "root of the sysfs/procfs tree to read (fixtures in tests)")
	hostname := fs.String("hostname", "", "hostname for a virtual appliance serial (default: this machine's)")
	profile := fs.String("profile", "", "profile override, as hafw.profile= on the kernel command line")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	if fs.NArg() != 0 {
		return usageError("unexpected arguments %q", fs.Args())
	}
	if *hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("reading hostname: %w", err)
		}
		*hostname = h
	}
	pl, err := board.Detect(board.System{Root: *root}, *hostname, *profile)
	if err != nil {
		return &cli.ExitError{Code: 1, Msg: err.Error()}
	}
	source := "detected from the hardware"
	if pl.Overridden {
		source = "override"
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "UDI:\t%s\n", pl.UDI)
	fmt.Fprintf(tw, "Profile:\t%s (%s, %s)\n", pl.Profile.Model, pl.Profile.Class, source)
	fmt.Fprintf(tw, "Platform:\t%s, %d vCPU, %d MB\n", pl.Hypervisor.Describe(), pl.CPUs, pl.MemoryMB)
	return tw.Flush()
}
