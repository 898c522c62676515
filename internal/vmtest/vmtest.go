// Package vmtest boots appliance images in QEMU for tests: TCG (these
// machines have no KVM), OVMF firmware for EFI disks or a direct kernel
// boot, virtio disks opened copy-on-write (the image under test is never
// modified), NICs on QEMU's isolated user network or on loopback sockets
// between VMs, and the serial console captured so a test can wait for a
// line such as "hafw-ready:". QEMU is killed when the test ends, whatever
// way it ends, and failures carry the tail of the console.
package vmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hafw/hafw/internal/testenv"
)

// Firmware files of Debian's ovmf package.
const (
	OVMFCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	OVMFVars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
)

// Disk is one disk of the VM, attached as virtio-blk in order.
type Disk struct {
	Path   string
	Format string // "raw" (default), "vmdk", "qcow2"
	// Writable lets the guest change the file itself; by default writes go
	// to a throw-away overlay (QEMU snapshot=on).
	Writable bool
}

// NIC is one network adapter. Model is a QEMU device ("virtio-net-pci",
// "e1000"); Backend a -netdev spec without id, default "user,restrict=on"
// (QEMU's private network, nothing reaches the host or beyond). To link
// two VMs use "socket,listen=127.0.0.1:PORT" and
// "socket,connect=127.0.0.1:PORT".
type NIC struct {
	Model   string
	Backend string
	MAC     string // optional, e.g. 52:54:00:12:34:01
}

// Options describe the VM.
type Options struct {
	Disks []Disk
	NICs  []NIC
	// EFI boots through OVMF (the disk's EFI system partition). Without it
	// Kernel and Initrd are booted directly with Cmdline.
	EFI                     bool
	Kernel, Initrd, Cmdline string
	MemoryMB                int // default 1024
	CPUs                    int // default 1: the test machines are small
	// CDROM is an ISO image in a SATA CD drive on the q35 machine's AHCI
	// controller, the way ESXi hands a guest its OVF environment.
	CDROM string
	// Extra QEMU arguments.
	Extra []string
}

// VM is a running QEMU.
type VM struct {
	t       testing.TB
	cmd     *exec.Cmd
	monitor string // QEMU's human monitor socket
	stdin   io.WriteCloser
	done    chan struct{}
	err     error // exit status, valid after done
	console *Console
}

// Require skips (or fails in CI) a test that cannot run QEMU here.
func Require(t testing.TB, efi bool) {
	t.Helper()
	testenv.RequireCommand(t, "qemu-system-x86_64")
	if efi {
		for _, f := range []string{OVMFCode, OVMFVars} {
			if _, err := os.Stat(f); err != nil {
				testenv.Unavailable(t, "needs OVMF firmware "+f+" (Debian package ovmf)")
			}
		}
	}
}

// Args returns the QEMU command line for o; dir holds per-VM files (the
// writable EFI variable store, the monitor socket). Every VM gets a
// virtio-rng device, as hypervisors offer one: without it the guest's
// first getrandom waits about 20 s for entropy under TCG.
func (o Options) Args(dir string) ([]string, error) {
	mem, cpus := o.MemoryMB, o.CPUs
	if mem == 0 {
		mem = 1024
	}
	if cpus == 0 {
		cpus = 1
	}
	args := []string{"-machine", "q35,accel=tcg", "-m", strconv.Itoa(mem), "-smp", strconv.Itoa(cpus),
		"-nodefaults", "-no-user-config", "-display", "none", "-vga", "none",
		"-serial", "stdio", "-monitor", "unix:" + MonitorSocket(dir) + ",server=on,wait=off", "-no-reboot",
		"-device", "virtio-rng-pci"}
	switch {
	case o.EFI:
		vars := filepath.Join(dir, "OVMF_VARS.fd")
		data, err := os.ReadFile(OVMFVars)
		if err != nil {
			return nil, fmt.Errorf("copying OVMF variables: %w", err)
		}
		if err := os.WriteFile(vars, data, 0o644); err != nil {
			return nil, fmt.Errorf("copying OVMF variables: %w", err)
		}
		args = append(args,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+OVMFCode,
			"-drive", "if=pflash,format=raw,unit=1,file="+vars)
	case o.Kernel != "":
		args = append(args, "-kernel", o.Kernel, "-append", o.Cmdline)
		if o.Initrd != "" {
			args = append(args, "-initrd", o.Initrd)
		}
	default:
		return nil, fmt.Errorf("vmtest: set EFI or Kernel")
	}
	for i, d := range o.Disks {
		format := d.Format
		if format == "" {
			format = "raw"
		}
		spec := fmt.Sprintf("if=none,id=disk%d,format=%s,file=%s", i, format, d.Path)
		if !d.Writable {
			spec += ",snapshot=on"
		}
		args = append(args, "-drive", spec, "-device", fmt.Sprintf("virtio-blk-pci,drive=disk%d,bootindex=%d", i, i+1))
	}
	if o.CDROM != "" {
		args = append(args, "-drive", "if=none,id=cd0,media=cdrom,readonly=on,format=raw,file="+o.CDROM,
			"-device", "ide-cd,drive=cd0,bus=ide.0")
	}
	for i, n := range o.NICs {
		backend := n.Backend
		if backend == "" {
			backend = "user,restrict=on"
		}
		model := n.Model
		if model == "" {
			model = "virtio-net-pci"
		}
		dev := fmt.Sprintf("%s,netdev=net%d", model, i)
		if n.MAC != "" {
			dev += ",mac=" + n.MAC
		}
		args = append(args, "-netdev", fmt.Sprintf("%s,id=net%d", backend, i), "-device", dev)
	}
	return append(args, o.Extra...), nil
}

// Start boots a VM for the rest of the test; it is killed at cleanup.
func Start(t testing.TB, o Options) *VM {
	t.Helper()
	Require(t, o.EFI)
	dir := t.TempDir()
	args, err := o.Args(dir)
	if err != nil {
		t.Fatal(err)
	}
	vm := &VM{t: t, monitor: MonitorSocket(dir), done: make(chan struct{}), console: NewConsole()}
	vm.cmd = exec.Command("qemu-system-x86_64", args...)
	vm.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	vm.cmd.Stdout = vm.console
	vm.cmd.Stderr = vm.console
	if vm.stdin, err = vm.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	t.Logf("qemu-system-x86_64 %s", strings.Join(args, " "))
	if err := StartPinned(vm.cmd, func(err error) { vm.err = err; close(vm.done) }); err != nil {
		t.Fatalf("starting QEMU: %v", err)
	}
	t.Cleanup(vm.Kill)
	return vm
}

// Console returns everything the VM printed so far.
func (vm *VM) Console() string { return vm.console.String() }

// Tail returns the last n lines of the console, for failure messages.
func (vm *VM) Tail(n int) string { return vm.console.Tail(n) }

// Type sends text to the serial console (the guest's /dev/console).
func (vm *VM) Type(s string) error {
	_, err := io.WriteString(vm.stdin, s)
	return err
}

// WaitFor waits until the console matches re and returns the submatches of
// the first match. It fails the test with the console tail if the timeout
// passes or QEMU exits first.
func (vm *VM) WaitFor(re *regexp.Regexp, timeout time.Duration) []string {
	vm.t.Helper()
	m, err := vm.Match(re, timeout)
	if err != nil {
		vm.t.Fatalf("%v\n--- console tail ---\n%s", err, vm.Tail(40))
	}
	return m
}

// Match is WaitFor returning an error instead of failing the test.
func (vm *VM) Match(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	start := time.Now()
	m, err := vm.console.Wait(context.Background(), re, 0, timeout, vm.done)
	if errors.Is(err, ErrExited) {
		return nil, fmt.Errorf("QEMU exited (%v) after %s before the console matched %q", vm.err, time.Since(start).Round(time.Millisecond), re)
	}
	return m, err
}

// MonitorSocket is where Args puts the QEMU monitor's unix socket.
func MonitorSocket(dir string) string { return filepath.Join(dir, "monitor.sock") }

// Monitor runs one command on QEMU's human monitor (e.g. "sendkey
// ctrl-alt-delete", what an operator's keyboard or the hypervisor's
// console would send) and returns its output.
func (vm *VM) Monitor(command string) (string, error) {
	c, err := net.DialTimeout("unix", vm.monitor, 10*time.Second)
	if err != nil {
		return "", fmt.Errorf("QEMU monitor: %w", err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return "", fmt.Errorf("QEMU monitor: %w", err)
	}
	// The monitor greets with a banner and a "(qemu) " prompt, echoes the
	// command and prompts again when it is done.
	var out bytes.Buffer
	if err := readUntilPrompt(c, &out); err != nil {
		return "", fmt.Errorf("QEMU monitor greeting: %w", err)
	}
	out.Reset()
	if _, err := io.WriteString(c, command+"\n"); err != nil {
		return "", fmt.Errorf("QEMU monitor %q: %w", command, err)
	}
	if err := readUntilPrompt(c, &out); err != nil {
		return out.String(), fmt.Errorf("QEMU monitor %q: %w", command, err)
	}
	return strings.TrimSuffix(out.String(), monitorPrompt), nil
}

const monitorPrompt = "(qemu) "

func readUntilPrompt(r io.Reader, out *bytes.Buffer) error {
	buf := make([]byte, 4096)
	for !bytes.HasSuffix(out.Bytes(), []byte(monitorPrompt)) {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return err
		}
	}
	return nil
}

// WaitExit waits up to timeout for QEMU to exit (with -no-reboot a guest
// reboot or power-off ends QEMU) and returns its exit status.
func (vm *VM) WaitExit(timeout time.Duration) error {
	select {
	case <-vm.done:
		return vm.err
	case <-time.After(timeout):
		return fmt.Errorf("QEMU still running after %s", timeout)
	}
}

// Kill stops QEMU (and anything it started) and waits for it.
func (vm *VM) Kill() {
	select {
	case <-vm.done:
		return
	default:
	}
	syscall.Kill(-vm.cmd.Process.Pid, syscall.SIGKILL)
	<-vm.done
}

// Exited reports whether QEMU has exited, and its status.
func (vm *VM) Exited() (bool, error) {
	select {
	case <-vm.done:
		return true, vm.err
	default:
		return false, nil
	}
}
