package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/hafw/hafw/image/bootctl"
	"github.com/hafw/hafw/initagent"
	"github.com/hafw/hafw/upgrade"
)

// runReboot is `hafw reboot [--recovery] [--other-slot]` on the
// appliance: an orderly reboot through the init agent, with --recovery
// once into the recovery entry of the slot that booted, with --other-slot
// once into the other boot slot (its recovery entry with both), as
// systemd-boot's one-shot variable; the boot after that is normal again.
func runReboot(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reboot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	recovery := fs.Bool("recovery", false, "boot the recovery entry once (no HA role, network up, configuration restore)")
	otherSlot := fs.Bool("other-slot", false, "boot the other boot slot's firmware once (only a slot that has booted well)")
	esp := fs.String("esp", DefaultESP, "mounted boot partition `DIR` (with --other-slot)")
	efivars := fs.String("efivars", bootctl.DefaultEfivars, "efivarfs `DIR`")
	socket := fs.String("control", initagent.DefaultPaths().ControlSocket(), "init agent control `SOCKET`")
	if err := fs.Parse(args); err != nil {
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	once := *recovery || *otherSlot
	if once {
		if *efivars == bootctl.DefaultEfivars {
			if err := bootctl.EnsureMounted(*efivars); err != nil {
				return err
			}
		}
		vars := bootctl.Vars{Dir: *efivars}
		sel, err := vars.Selected()
		if err != nil {
			return err
		}
		var entry string
		if *otherSlot {
			entry, err = upgrade.MachineAt(*esp, "", vars.Selected).OtherSlotEntry(*recovery)
		} else {
			entry, err = bootctl.RecoveryEntry(sel)
		}
		if err != nil {
			return err
		}
		if err := vars.SetOneShot(entry); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "next boot, once: %s (booted from %s)\n", entry, sel)
	}
	if err := (initagent.ControlClient{Socket: *socket}).Reboot(ctx); err != nil {
		if once {
			return fmt.Errorf("the one-shot boot entry is set but the reboot request failed (it applies at the next reboot, however caused): %w", err)
		}
		return fmt.Errorf("requesting reboot: %w", err)
	}
	fmt.Fprintln(stdout, "rebooting")
	return nil
}
