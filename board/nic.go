package board

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// NIC is one network interface as the kernel shows it in /sys/class/net.
type NIC struct {
	Name string
	MAC  string
	// Driver is the kernel driver of the underlying device ("e1000e",
	// "vmxnet3", "virtio_net"); empty for software interfaces.
	Driver string
	// Physical is true when the interface has a device behind it (not lo,
	// a bridge, a veth or an ifb).
	Physical bool
	// Carrier is true when the link is up at layer 1; false when down or
	// when the kernel cannot tell (an administratively down interface).
	Carrier   bool
	OperState string // "up", "down", "unknown", …
}

// ReadNICs lists the interfaces in /sys/class/net, sorted by name.
func ReadNICs(s System) ([]NIC, error) {
	dir := s.path("sys/class/net")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing network interfaces: %w", err)
	}
	var nics []NIC
	for _, e := range entries {
		nic, err := readNIC(s, e.Name())
		if err != nil {
			return nil, err
		}
		nics = append(nics, nic)
	}
	sort.Slice(nics, func(i, j int) bool { return nics[i].Name < nics[j].Name })
	return nics, nil
}

func readNIC(s System, name string) (NIC, error) {
	base := filepath.Join("sys/class/net", name)
	nic := NIC{Name: name}
	var err error
	if nic.MAC, err = s.readOptional(filepath.Join(base, "address")); err != nil {
		return NIC{}, err
	}
	if nic.OperState, err = s.readOptional(filepath.Join(base, "operstate")); err != nil {
		return NIC{}, err
	}
	// carrier cannot be read (EINVAL) while the interface is down: that is
	// "no carrier", not an error.
	carrier, err := os.ReadFile(s.path(filepath.Join(base, "carrier")))
	nic.Carrier = err == nil && len(carrier) > 0 && carrier[0] == '1'
	if _, err := os.Stat(s.path(filepath.Join(base, "device"))); err == nil {
		nic.Physical = true
	}
	driver, err := os.Readlink(s.path(filepath.Join(base, "device", "driver")))
	switch {
	case err == nil:
		nic.Driver = filepath.Base(driver)
	case !errors.Is(err, fs.ErrNotExist):
		return NIC{}, fmt.Errorf("reading driver of %s: %w", name, err)
	}
	return nic, nil
}
