package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Boot partition layout. Each slot is a directory with a kernel and an
// initramfs; each filled slot has a normal and a recovery loader entry.
// Upgrades write the inactive slot and switch loader.conf's default (or set
// the one-shot LoaderEntryOneShot EFI variable to try it once), so a bad
// firmware rolls back to the other slot. The running system learns which
// entry it booted from systemd-boot's LoaderEntrySelected EFI variable.
//
//	EFI/BOOT/BOOTX64.EFI            systemd-boot
//	loader/loader.conf              default hafw-a.conf, menu timeout
//	loader/entries/hafw-a.conf      slot A
//	loader/entries/hafw-a-recovery.conf
//	hafw/a/vmlinuz, hafw/a/initrd.zst
//	hafw/b/                         empty until the first upgrade
//	hafw/slots.json                 which slot holds what, which is active
const (
	// BaseCmdline is the kernel command line of every entry: the serial
	// console last so that it is /dev/console (the lab and the field
	// engineer's console cable both use ttyS0).
	BaseCmdline = "console=tty0 console=ttyS0,115200 panic=10"
	// menuTimeout is how long systemd-boot shows its menu (seconds): short,
	// but long enough to pick the recovery entry on the console.
	menuTimeout = 3
)

// Slots is hafw/slots.json on the boot partition.
type Slots struct {
	Active string          `json:"active"`
	Slots  map[string]Slot `json:"slots"`
}

// Slot describes one boot slot's content; an empty Version means empty.
type Slot struct {
	Version string `json:"version,omitempty"`
	Kernel  string `json:"kernel_sha256,omitempty"`
	Initrd  string `json:"initrd_sha256,omitempty"`
}

// loaderEntry renders a systemd-boot Type #1 entry.
func loaderEntry(title, slot, version, cmdline string) []byte {
	return fmt.Appendf(nil, "title %s\nversion %s\nlinux /hafw/%s/vmlinuz\ninitrd /hafw/%s/initrd.zst\noptions %s\n",
		title, version, slot, slot, strings.TrimSpace(cmdline))
}

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
	slots, err := json.MarshalIndent(Slots{Active: "a", Slots: map[string]Slot{
		"a": {Version: o.Version, Kernel: kernelSum, Initrd: initrdSum},
		"b": {},
	}}, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding slots: %w", err)
	}
	files := map[string][]byte{
		"loader/loader.conf":                  fmt.Appendf(nil, "default hafw-a.conf\ntimeout %d\neditor no\nauto-entries no\nauto-firmware no\n", menuTimeout),
		"loader/entries/hafw-a.conf":          loaderEntry("hafw "+o.Profile.Model+" (slot A)", "a", o.Version, cmdline),
		"loader/entries/hafw-a-recovery.conf": loaderEntry("hafw "+o.Profile.Model+" recovery (slot A)", "a", o.Version, cmdline+" hafw.recovery"),
		"hafw/slots.json":                     append(slots, '\n'),
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
