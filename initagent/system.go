package initagent

import (
	"context"
	"net/netip"

	"github.com/hafw/hafw/config"
)

// System is every kernel call the boot steps make. The Linux implementation
// is LinuxSystem; boot-step tests use a recording fake, because mounting
// /proc or rebooting is only meaningful as PID 1 in a VM (engineer B's QEMU
// boot tests exercise the real one).
type System interface {
	// Mount creates the target directory and mounts; a target that is
	// already mounted (EBUSY) is not an error.
	Mount(m Mount) error
	Unmount(target string) error
	// LoadModule loads a .ko file; a module already loaded is not an error.
	LoadModule(path string) error
	SetHostname(name string) error
	// MakeFS creates an ext4 filesystem with label on a blank device.
	MakeFS(ctx context.Context, device, label string) error
	Sync()
	// Reboot restarts (poweroff false) or powers off the machine. It only
	// returns on failure.
	Reboot(poweroff bool) error
}

// PortStatus is the outcome of configuring one Ethernet port, in the terms
// of the ready line.
type PortStatus struct {
	// Address is the address in use (static, or leased by DHCP).
	Address netip.Prefix
	// DHCPPending is true while a DHCP port has no lease yet.
	DHCPPending bool
}

// Network configures the Ethernet ports. Engineer D's osnet package
// implements it (netlink, DHCP with renewal); the init agent never touches
// netlink itself.
type Network interface {
	Configure(ctx context.Context, name string, c config.Interface) (PortStatus, error)
}
