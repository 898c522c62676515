package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hafw/hafw/upgrade"
)

// Boot partition layout: systemd-boot as EFI/BOOT/BOOTX64.EFI, and the
// boot slots as package upgrade lays them out (slot A filled and
// committed, slot B empty until the first upgrade; see upgrade's slots.go
// for the entries and how systemd-boot chooses between the slots). The
// running system learns which entry it booted from systemd-boot's
// LoaderEntrySelected EFI variable.
const (
	// BaseCmdline is the kernel command line of every entry: the serial
	// console last so that it is /dev/console (the lab and the field
	// engineer's console cable both use ttyS0).
	BaseCmdline = "console=tty0 console=ttyS0,115200 panic=10"
	// menuTimeout is how long systemd-boot shows its menu (seconds): short,
	// but long enough to pick the recovery entry on the console.
	menuTimeout = 3
)

// stageESP lays out the boot partition with slot A filled and active.
func stageESP(o Options, dir, initrd string) error {
	cmdline := BaseCmdline
	if o.Cmdline != "" {
		cmdline += " " + o.Cmdline
	}
	kernelSum, err := fileSHA256(o.Kernel.Image)
	if err != nil {
		return err
	}
	initrdSum, err := fileSHA256(initrd)
	if err != nil {
		return err
	}
	slots := upgrade.Slots{Active: "a", Slots: map[string]upgrade.Slot{
		"a": {Version: o.Version, Kernel: kernelSum, Initrd: initrdSum, State: upgrade.StateGood, Seq: 1},
		"b": {},
	}}
	entries := upgrade.EntriesDir + "/"
	files := map[string][]byte{
		upgrade.LoaderConf:                         upgrade.LoaderConfText(menuTimeout),
		entries + upgrade.EntryName("a", false, 0): upgrade.EntryText(upgrade.EntryTitle(o.Profile.Model, o.Version, "a", false), "a", 1, o.Version, cmdline, false),
		entries + upgrade.EntryName("a", true, 0):  upgrade.EntryText(upgrade.EntryTitle(o.Profile.Model, o.Version, "a", true), "a", 1, o.Version, cmdline, true),
		upgrade.SlotsFile:                          slots.Marshal(),
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("staging ESP: %w", err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("staging ESP: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "hafw", "b"), 0o755); err != nil {
		return fmt.Errorf("staging ESP: %w", err)
	}
	for src, dst := range map[string]string{
		o.Bootloader:   "EFI/BOOT/BOOTX64.EFI",
		o.Kernel.Image: "hafw/a/vmlinuz",
		initrd:         "hafw/a/initrd.zst",
	} {
		if err := copyFile(src, filepath.Join(dir, dst)); err != nil {
			return fmt.Errorf("staging ESP: %w", err)
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
