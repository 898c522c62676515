// Package board is the machine underneath the firmware: its DMI/SMBIOS
// identity, the hypervisor it runs on (if any), the hardware profile and
// platform UDI that follow from them, its network ports and its hardware
// watchdog.
//
// Every reader takes a System whose Root can point at a fixture tree, and
// keeps its OS access to reading a few small files; the decisions (which
// hypervisor, which profile, which UDI) are pure functions of the Facts read,
// tested with fixtures in testdata/.
package board

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// System locates the kernel's view of the machine: Root "/" (or "") is this
// machine, anything else a directory laid out like it (sys/, proc/).
type System struct {
	Root string
}

func (s System) path(rel string) string {
	root := s.Root
	if root == "" {
		root = "/"
	}
	return filepath.Join(root, rel)
}

// readOptional reads a small sysfs/procfs file and trims it; a missing file
// is "" (DMI is absent on many virtual machines), any other error is
// returned, for example permission denied on product_serial for non-root.
func (s System) readOptional(rel string) (string, error) {
	data, err := os.ReadFile(s.path(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", s.path(rel), err)
	}
	return strings.TrimSpace(string(data)), nil
}

// Identity is what DMI/SMBIOS says about the machine.
type Identity struct {
	Vendor  string // sys_vendor, e.g. "VMware, Inc." or "Cisco Systems Inc"
	Product string // product_name, e.g. "VMware Virtual Platform" or "AIR-MSE-3355-K9"
	Version string // product_version
	Serial  string // product_serial
	UUID    string // product_uuid, lower case
}

const dmiDir = "sys/class/dmi/id"

// ReadIdentity reads the DMI identity. Fields the machine does not provide
// are empty; a machine without DMI gives an empty Identity and no error.
func ReadIdentity(s System) (Identity, error) {
	var id Identity
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"sys_vendor", &id.Vendor},
		{"product_name", &id.Product},
		{"product_version", &id.Version},
		{"product_serial", &id.Serial},
		{"product_uuid", &id.UUID},
	} {
		v, err := s.readOptional(filepath.Join(dmiDir, f.name))
		if err != nil {
			return Identity{}, fmt.Errorf("reading DMI identity: %w", err)
		}
		*f.dst = v
	}
	id.UUID = strings.ToLower(id.UUID)
	return id, nil
}

// usableSerial reports whether a DMI serial identifies this box, rather than
// being one of the placeholders BIOS vendors leave in unset fields.
func usableSerial(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "0", "none", "n/a", "na", "not specified", "not available", "default string",
		"system serial number", "to be filled by o.e.m.", "0123456789":
		return false
	}
	return true
}
