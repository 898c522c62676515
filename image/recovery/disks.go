// Package recovery makes the recovery media — a bootable USB/ISO-style
// disk that boots an appliance into an installer which flashes the
// firmware onto the internal disk — and holds the installer's logic.
package recovery

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// MediaLabel is the ext4 label of the media's partition that carries the
// firmware image and its build manifest.
const MediaLabel = "hafw-install"

// Disk is a candidate internal disk.
type Disk struct {
	Name  string // kernel name, e.g. "vdb"
	Model string
	Size  int64 // bytes
}

// InternalDisks lists the whole disks under sysRoot/block that can receive
// the firmware: not the media disk itself, not loop/ram/zram/optical
// devices, not empty ones. Sorted by name.
func InternalDisks(sysRoot, mediaDisk string) ([]Disk, error) {
	entries, err := os.ReadDir(filepath.Join(sysRoot, "block"))
	if err != nil {
		return nil, fmt.Errorf("listing disks: %w", err)
	}
	var out []Disk
	for _, e := range entries {
		n := e.Name()
		if n == mediaDisk || strings.HasPrefix(n, "loop") || strings.HasPrefix(n, "ram") ||
			strings.HasPrefix(n, "zram") || strings.HasPrefix(n, "sr") {
			continue
		}
		dir := filepath.Join(sysRoot, "block", n)
		sectors, err := strconv.ParseInt(strings.TrimSpace(readFile(filepath.Join(dir, "size"))), 10, 64)
		if err != nil || sectors == 0 {
			continue
		}
		out = append(out, Disk{Name: n, Size: sectors * 512,
			Model: strings.TrimSpace(readFile(filepath.Join(dir, "device", "model")))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func readFile(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return string(b)
}
