package initagent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"
)

// LinuxSystem is System on a real Linux kernel.
type LinuxSystem struct{}

// Mount implements System.
func (LinuxSystem) Mount(m Mount) error {
	if err := os.MkdirAll(m.Target, 0o755); err != nil {
		return fmt.Errorf("create mount point %s: %w", m.Target, err)
	}
	err := unix.Mount(m.Source, m.Target, m.FSType, m.Flags, m.Data)
	if errors.Is(err, unix.EBUSY) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mount %s on %s (%s): %w", m.Source, m.Target, m.FSType, err)
	}
	return nil
}

// Unmount implements System.
func (LinuxSystem) Unmount(target string) error {
	if err := unix.Unmount(target, 0); err != nil {
		return fmt.Errorf("unmount %s: %w", target, err)
	}
	return nil
}

// LoadModule implements System with finit_module.
func (LinuxSystem) LoadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open module: %w", err)
	}
	defer f.Close()
	err = unix.FinitModule(int(f.Fd()), "", 0)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("load module %s: %w", path, err)
	}
	return nil
}

// SetHostname implements System.
func (LinuxSystem) SetHostname(name string) error {
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("set hostname %q: %w", name, err)
	}
	return nil
}

// ErrNoMkfs means the image ships no mke2fs, so a blank data partition
// cannot be formatted on the appliance.
var ErrNoMkfs = errors.New("no mke2fs or mkfs.ext4 in the image")

// MakeFS implements System by running mke2fs from the image. The image
// puts it at /sbin/mke2fs; PID 1 has no PATH (the kernel sets none), so
// that path is tried after the PATH lookup that serves tests and hosts.
func (LinuxSystem) MakeFS(ctx context.Context, device, label string) error {
	var tool string
	for _, name := range []string{"mke2fs", "mkfs.ext4", "/sbin/mke2fs"} {
		if p, err := exec.LookPath(name); err == nil {
			tool = p
			break
		}
	}
	if tool == "" {
		return fmt.Errorf("format %s: %w", device, ErrNoMkfs)
	}
	out, err := exec.CommandContext(ctx, tool, "-q", "-F", "-t", "ext4", "-L", label, device).CombinedOutput()
	if err != nil {
		return fmt.Errorf("format %s with %s: %w: %s", device, tool, err, out)
	}
	return nil
}

// AttachConsole implements System: fds 0-2 are pointed at /dev/console
// only when stdout is not open.
func (LinuxSystem) AttachConsole() error {
	var st unix.Stat_t
	if unix.Fstat(1, &st) == nil {
		return nil
	}
	fd, err := unix.Open("/dev/console", unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("open /dev/console: %w", err)
	}
	for _, target := range []int{0, 1, 2} {
		if err := unix.Dup2(fd, target); err != nil {
			return fmt.Errorf("attach console to fd %d: %w", target, err)
		}
	}
	if fd > 2 {
		unix.Close(fd)
	}
	return nil
}

// TrapCtrlAltDel implements System.
func (LinuxSystem) TrapCtrlAltDel() error {
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF); err != nil {
		return fmt.Errorf("route ctrl-alt-del to init: %w", err)
	}
	return nil
}

// Sync implements System.
func (LinuxSystem) Sync() { unix.Sync() }

// Reboot implements System.
func (LinuxSystem) Reboot(poweroff bool) error {
	cmd := unix.LINUX_REBOOT_CMD_RESTART
	if poweroff {
		cmd = unix.LINUX_REBOOT_CMD_POWER_OFF
	}
	if err := unix.Reboot(cmd); err != nil {
		return fmt.Errorf("reboot: %w", err)
	}
	return nil
}

// newConsoleCommand runs path on the agent's own console (stdin/stdout),
// in its own session so that signals meant for it never reach PID 1.
func newConsoleCommand(path string) *exec.Cmd {
	cmd := exec.Command(path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true}
	return cmd
}
