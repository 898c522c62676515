package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/hafw/hafw/image/bootctl"
	"github.com/hafw/hafw/internal/cli"
	"github.com/hafw/hafw/upgrade"
)

// DefaultESP is where the boot partition is mounted on the appliance.
const DefaultESP = "/boot"

// runUpgrade is `hafw upgrade status|install` on the appliance: the boot
// slots' versions and states, or a verified install of an update bundle
// into the inactive slot (it takes effect at the next reboot).
func runUpgrade(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("upgrade needs a subcommand: status or install FILE")
	}
	fs := flag.NewFlagSet("upgrade "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	esp := fs.String("esp", DefaultESP, "mounted boot partition `DIR`")
	etc := fs.String("etc", "/etc/hafw", "firmware identity `DIR` (profile, version, vendor.pub)")
	efivars := fs.String("efivars", bootctl.DefaultEfivars, "efivarfs `DIR` (which entry booted)")
	allowDowngrade := fs.Bool("allow-downgrade", false, "install a version that is not newer than the running one (logged)")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError("%v", err)
	}
	m := upgrade.MachineAt(*esp, *etc, bootctl.Vars{Dir: *efivars}.Selected)
	switch args[0] {
	case "status":
		if fs.NArg() > 0 {
			return usageError("unexpected arguments: %s", strings.Join(fs.Args(), " "))
		}
		slots, err := m.Status()
		if err != nil {
			return fmt.Errorf("%w (is the boot partition mounted at %s?)", err, *esp)
		}
		upgrade.WriteTable(stdout, slots)
		return nil
	case "install":
		if fs.NArg() != 1 {
			return usageError("upgrade install needs exactly one bundle FILE")
		}
		p := &cli.Progress{W: stderr}
		res, err := m.Install(ctx, fs.Arg(0), *allowDowngrade, p.Show)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, res.Summary())
		return nil
	}
	return usageError("unknown upgrade subcommand %q: status or install FILE", args[0])
}
