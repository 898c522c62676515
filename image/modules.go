package image

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LabModules are loaded in every image, whatever the profile: the QEMU lab
// hardware (virtio PCI transport, virtio disk and NIC, SCSI and SATA
// controllers, e1000) so that any image boots in the lab, plus the file
// systems the init agent mounts (ext4 data partition, FAT boot partition,
// efivarfs for boot-slot variables), and the CD-ROM stack (SCSI CD on
// AHCI/virtio-scsi, iso9660) that the OVF environment arrives on with
// ESXi's "iso" transport, and virtio_rng: QEMU's entropy device seeds the
// kernel's random pool, without which the first DHCP exchange waited about
// 20 s for entropy under TCG (the lab CPU has no RDRAND). crc32c_generic is ext4's soft
// dependency ("softdep pre: crc32c", an alias that modprobe would resolve);
// without it ext4 refuses to mount.
var LabModules = []string{
	"virtio_pci", "virtio_blk", "virtio_net", "virtio_scsi", "e1000",
	"ahci", "sd_mod", "crc32c_generic", "ext4", "vfat", "nls_cp437", "nls_ascii", "efivarfs",
	"sr_mod", "isofs", "virtio_rng",
}

// ModuleName normalises a module name: the kernel treats '-' and '_' alike.
func ModuleName(s string) string {
	s = strings.TrimSuffix(filepath.Base(s), ".ko")
	return strings.ReplaceAll(s, "-", "_")
}

// ParseModinfo reads the NUL-separated key=value strings of a module's
// .modinfo section and returns the names listed in "depends=".
func ParseModinfo(section []byte) (depends []string, err error) {
	for _, field := range bytes.Split(section, []byte{0}) {
		key, val, ok := bytes.Cut(field, []byte("="))
		if !ok || string(key) != "depends" {
			continue
		}
		for _, d := range strings.Split(string(val), ",") {
			d = strings.TrimSpace(d)
			if d == "" {
				continue
			}
			if strings.ContainsAny(d, "/\x00") || len(d) > 64 {
				return nil, fmt.Errorf("malformed dependency %q in .modinfo", d)
			}
			depends = append(depends, ModuleName(d))
		}
	}
	return depends, nil
}

// ModuleTree indexes the .ko files under a kernel's lib/modules/KVER
// directory by module name.
type ModuleTree struct {
	Root    string            // the lib/modules/KVER directory
	paths   map[string]string // module name → path relative to Root
	builtin map[string]bool   // modules compiled into the kernel
}

// OpenModuleTree walks dir. Compressed modules (.ko.xz, .ko.zst) are not
// supported: Debian's kernel ships plain .ko files and the init agent loads
// them with finit_module without decompression.
func OpenModuleTree(dir string) (*ModuleTree, error) {
	t := &ModuleTree{Root: dir, paths: map[string]string{}}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".ko") {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		t.paths[ModuleName(p)] = rel
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("indexing kernel modules in %s: %w", dir, err)
	}
	if len(t.paths) == 0 {
		return nil, fmt.Errorf("indexing kernel modules in %s: no .ko files found", dir)
	}
	if t.builtin, err = readBuiltin(dir); err != nil {
		return nil, err
	}
	return t, nil
}

// ErrNoModule is returned when a required module is not in the tree.
var ErrNoModule = errors.New("kernel module not found")

func (t *ModuleTree) depends(name string) ([]string, error) {
	rel, ok := t.paths[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s (in %s)", ErrNoModule, name, t.Root)
	}
	f, err := elf.Open(filepath.Join(t.Root, rel))
	if err != nil {
		return nil, fmt.Errorf("reading module %s: %w", rel, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("reading module %s: no .modinfo section", rel)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("reading module %s: %w", rel, err)
	}
	deps, err := ParseModinfo(data)
	if err != nil {
		return nil, fmt.Errorf("reading module %s: %w", rel, err)
	}
	return deps, nil
}

// Resolve returns the paths (relative to Root) of the named modules and
// everything they depend on, dependencies first. Names are resolved in
// sorted order so the list is the same on every build. Modules built into
// the kernel (modules.builtin) need no file and are skipped.
func (t *ModuleTree) Resolve(names []string) ([]string, error) {
	want := append([]string(nil), names...)
	sort.Strings(want)
	var order []string
	state := map[string]int{} // 1 = visiting, 2 = done
	var visit func(n string, chain []string) error
	visit = func(n string, chain []string) error {
		if t.builtin[n] {
			return nil
		}
		switch state[n] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("module dependency cycle: %s", strings.Join(append(chain, n), " -> "))
		}
		state[n] = 1
		deps, err := t.depends(n)
		if err != nil {
			return err
		}
		sort.Strings(deps)
		for _, d := range deps {
			if err := visit(d, append(chain, n)); err != nil {
				return err
			}
		}
		state[n] = 2
		order = append(order, t.paths[n])
		return nil
	}
	for _, n := range want {
		if err := visit(ModuleName(n), nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// readBuiltin reads modules.builtin in dir (if present): the modules
// compiled into the kernel.
func readBuiltin(dir string) (map[string]bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, "modules.builtin"))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading modules.builtin: %w", err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out[ModuleName(line)] = true
		}
	}
	return out, nil
}
