package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/hafw/hafw/image/bootctl"
	"github.com/hafw/hafw/licensing"
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
	boot := upgrade.Dir(*esp)
	switch args[0] {
	case "status":
		if fs.NArg() > 0 {
			return usageError("unexpected arguments: %s", strings.Join(fs.Args(), " "))
		}
		s, err := upgrade.ReadSlots(boot)
		if err != nil {
			return fmt.Errorf("%w (is the boot partition mounted at %s?)", err, *esp)
		}
		entries, err := boot.List(upgrade.EntriesDir)
		if err != nil {
			return err
		}
		booted, _ := bootctl.Vars{Dir: *efivars}.Selected() // unknown off UEFI
		printSlots(stdout, s, entries, booted)
		return nil
	case "install":
		if fs.NArg() != 1 {
			return usageError("upgrade install needs exactly one bundle FILE")
		}
		read := func(name string) (string, error) {
			b, err := os.ReadFile(filepath.Join(*etc, name))
			return strings.TrimSpace(string(b)), err
		}
		profile, err := read("profile")
		if err != nil {
			return fmt.Errorf("this appliance's profile: %w", err)
		}
		running, err := read("version")
		if err != nil {
			return fmt.Errorf("this appliance's version: %w", err)
		}
		pub, err := licensing.ReadPublicKey(filepath.Join(*etc, "vendor.pub"))
		if err != nil {
			return err
		}
		booted, _ := bootctl.Vars{Dir: *efivars}.Selected() // unknown off UEFI: slots.json decides
		in := upgrade.Installer{Boot: boot, Pub: pub, Booted: booted,
			Policy: upgrade.Policy{Profile: profile, Running: running, DataSchema: upgrade.DataSchema, AllowDowngrade: *allowDowngrade}}
		res, err := in.Install(ctx, fs.Arg(0), nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "version %s installed in slot %s (entry %s, %d tries); it boots at the next reboot, and version %s comes back by itself unless it becomes healthy\n",
			res.Version, strings.ToUpper(res.Slot), res.Entry, upgrade.DefaultTries, res.Previous)
		return nil
	}
	return usageError("unknown upgrade subcommand %q: status or install FILE", args[0])
}

// printSlots is the status table: each slot's version, state and loader
// entry, the active one and the pending one marked; a pending slot that
// is running now (booted from its counted entry) is on trial.
func printSlots(w io.Writer, s upgrade.Slots, entries []string, booted string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Slot\tVersion\tState\tEntry\tNote")
	for _, name := range upgrade.SlotNames {
		sl := s.Slots[name]
		var ents []string
		for _, e := range entries {
			if p, ok := upgrade.ParseEntry(e); ok && p.Slot == name && !p.Recovery {
				ents = append(ents, e)
			}
		}
		note := ""
		switch {
		case name == s.Active:
			note = "active"
		case sl.State == upgrade.StatePending && upgrade.BootedSlot(booted) == name:
			note = "running on trial: committed once healthy, else the tries run out"
		case sl.State == upgrade.StatePending:
			note = "pending: boots next, on trial"
		case sl.State == upgrade.StateFailed:
			note = "failed: " + sl.Failure
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", strings.ToUpper(name), dash(sl.Version), dash(sl.State), dash(strings.Join(ents, " ")), note)
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
