package initagent

import "context"

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
	// AttachConsole makes /dev/console stdin/stdout/stderr when the kernel
	// could not (an initramfs without /dev/console).
	AttachConsole() error
	// TrapCtrlAltDel makes the kernel send SIGINT to PID 1 on
	// ctrl-alt-del instead of rebooting at once.
	TrapCtrlAltDel() error
	// Reboot restarts (poweroff false) or powers off the machine. It only
	// returns on failure.
	Reboot(poweroff bool) error
}
