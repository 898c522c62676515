package image

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Kernel is a kernel image with its module tree.
type Kernel struct {
	Image   string // bzImage with EFI stub (Debian's /boot/vmlinuz-KVER)
	Modules string // lib/modules/KVER
}

// Release is the kernel release the module tree belongs to (KVER).
func (k Kernel) Release() string { return filepath.Base(k.Modules) }

// ErrNoKernel is returned when no kernel was given or found.
var ErrNoKernel = errors.New("no kernel")

// FindUnpackedKernel picks the newest kernel package unpacked by
// scripts/fetch-kernel.sh under cacheDir (a directory per package, marked
// complete by a .complete file).
func FindUnpackedKernel(cacheDir string) (Kernel, error) {
	entries, err := os.ReadDir(cacheDir)
	if err != nil {
		return Kernel{}, fmt.Errorf("%w: reading %s: %w", ErrNoKernel, cacheDir, err)
	}
	var names []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(cacheDir, e.Name(), ".complete")); err == nil {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return Kernel{}, fmt.Errorf("%w: no unpacked kernel package in %s (run scripts/fetch-kernel.sh)", ErrNoKernel, cacheDir)
	}
	sort.Strings(names)
	return UnpackedKernel(filepath.Join(cacheDir, names[len(names)-1]))
}

// UnpackedKernel finds boot/vmlinuz-KVER and lib/modules/KVER in the root
// of an unpacked Debian kernel package.
func UnpackedKernel(root string) (Kernel, error) {
	images, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(images) != 1 {
		return Kernel{}, fmt.Errorf("%w: want exactly one boot/vmlinuz-* in %s, found %d", ErrNoKernel, root, len(images))
	}
	kver := strings.TrimPrefix(filepath.Base(images[0]), "vmlinuz-")
	k := Kernel{Image: images[0], Modules: filepath.Join(root, "lib", "modules", kver)}
	if _, err := os.Stat(k.Modules); err != nil {
		return Kernel{}, fmt.Errorf("%w: modules of %s: %w", ErrNoKernel, kver, err)
	}
	return k, nil
}

// kernelRelease verifies that path is a bzImage that firmware can start
// directly (an EFI stub kernel: "MZ" DOS header and the "HdrS" boot
// protocol magic), so a wrong file fails the build rather than the boot,
// and returns its release from the setup header's version string.
func kernelRelease(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: %s does not exist", ErrNoKernel, path)
	}
	if err != nil {
		return "", fmt.Errorf("opening kernel: %w", err)
	}
	defer f.Close()
	hdr := make([]byte, 0x210)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		return "", fmt.Errorf("%w: %s is not a kernel image: %w", ErrNoKernel, path, err)
	}
	if string(hdr[0:2]) != "MZ" || string(hdr[0x202:0x206]) != "HdrS" {
		return "", fmt.Errorf("%w: %s is not an EFI-stub bzImage", ErrNoKernel, path)
	}
	off := int64(binary.LittleEndian.Uint16(hdr[0x20e:])) + 0x200
	ver := make([]byte, 128)
	n, _ := f.ReadAt(ver, off)
	release, _, _ := strings.Cut(string(ver[:n]), " ")
	if release == "" || strings.ContainsRune(release, 0) {
		return "", fmt.Errorf("%w: %s has no version string", ErrNoKernel, path)
	}
	return release, nil
}

// check verifies the kernel image and that the modules were built for it
// (a mismatch would boot without any driver).
func (k Kernel) check() error {
	release, err := kernelRelease(k.Image)
	if err != nil {
		return err
	}
	if release != k.Release() {
		return fmt.Errorf("%w: kernel %s is release %s but the modules in %s are for %s", ErrBadInput, k.Image, release, k.Modules, k.Release())
	}
	return nil
}
