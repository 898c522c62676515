package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/hafw/hafw/appliance"
	"github.com/hafw/hafw/board"
	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/cli"
)

// runUDI prints this machine's UDI and profile as the init agent resolves
// them (identify). Exit status: 0 when the machine is an appliance (or a
// profile override applies), 1 with a one-line reason when it is not (for
// example a KVM build machine) or the platform cannot be read, 2 for a
// usage error.
func runUDI(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("udi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", "/", "root of the sysfs/procfs tree to read, proc/cmdline included (fixtures in tests)")
	hostname := fs.String("hostname", "", "hostname for a virtual appliance serial (default: the configuration's, else this machine's)")
	profile := fs.String("profile", "", "profile override, as hafw.profile= on the kernel command line")
	cfgPath := fs.String("config", config.Layout{Root: config.DefaultRoot}.ConfigFile(), "appliance configuration (hostname and profile)")
	profileFile := fs.String("profile-file", "/etc/hafw/profile", "the image's profile file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	if fs.NArg() != 0 {
		return usageError("unexpected arguments %q", fs.Args())
	}
	id, err := identify(*root, *cfgPath, *profileFile, *profile, *hostname)
	if err != nil {
		return &cli.ExitError{Code: 1, Msg: err.Error()}
	}
	source := "detected from the hardware"
	if id.Source != appliance.FromHardware {
		source = "override: " + id.Source.String()
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "UDI:\t%s\n", id.UDI)
	fmt.Fprintf(tw, "Profile:\t%s (%s, %s)\n", id.Profile.Model, id.Profile.Class, source)
	fmt.Fprintf(tw, "Platform:\t%s, %d vCPU, %d MB\n", id.Hypervisor.Describe(), id.CPUs, id.MemoryMB)
	return tw.Flush()
}

// identify resolves the identity the way the init agent does at boot
// (appliance.Resolve): the kernel command line under root (profile, when
// given, stands for its hafw.profile=), the configuration (hostname, when
// given, replaces its hostname; none and no configuration means the
// machine's), the image's profile file, the board facts under root.
func identify(root, cfgPath, profileFile, profile, hostname string) (appliance.Identity, error) {
	cfg, err := config.Load(cfgPath)
	if err != nil && !errors.Is(err, config.ErrNotConfigured) && !errors.Is(err, os.ErrNotExist) {
		return appliance.Identity{}, fmt.Errorf("reading the configuration: %w", err)
	}
	if hostname != "" {
		cfg.Hostname = hostname
	}
	boot, err := appliance.ReadCmdline(filepath.Join(root, "proc", "cmdline"))
	if err != nil {
		return appliance.Identity{}, err
	}
	if profile != "" {
		boot.Profile = profile
	}
	return appliance.Resolve(appliance.Sources{Board: board.System{Root: root}, Cmdline: boot, Config: cfg, ProfileFile: profileFile})
}
