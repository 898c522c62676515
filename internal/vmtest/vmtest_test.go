package vmtest

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hafw/hafw/internal/testenv"
)

func TestArgs(t *testing.T) {
	dir := t.TempDir()
	args, err := Options{Kernel: "/k", Initrd: "/i", Cmdline: "console=ttyS0",
		Disks: []Disk{{Path: "/a.img"}, {Path: "/b.vmdk", Format: "vmdk", Writable: true}},
		NICs:  []NIC{{}, {Model: "e1000", Backend: "socket,listen=127.0.0.1:4000", MAC: "52:54:00:00:00:02"}},
	}.Args(dir)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(args, " ")
	for _, want := range []string{
		"-kernel /k -append console=ttyS0", "-initrd /i", "accel=tcg",
		"if=none,id=disk0,format=raw,file=/a.img,snapshot=on",
		"if=none,id=disk1,format=vmdk,file=/b.vmdk -device",
		"-netdev user,restrict=on,id=net0 -device virtio-net-pci,netdev=net0",
		"-netdev socket,listen=127.0.0.1:4000,id=net1 -device e1000,netdev=net1,mac=52:54:00:00:00:02",
		"-device virtio-rng-pci", "-monitor unix:" + MonitorSocket(dir) + ",server=on,wait=off",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("args lack %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "cd0") {
		t.Errorf("CD drive without CDROM: %s", line)
	}
	args, err = Options{Kernel: "/k", CDROM: "/env.iso"}.Args(dir)
	if err != nil {
		t.Fatal(err)
	}
	if line := strings.Join(args, " "); !strings.Contains(line, "media=cdrom,readonly=on,format=raw,file=/env.iso -device ide-cd,drive=cd0") {
		t.Errorf("args lack the CD drive: %s", line)
	}
	if _, err := (Options{}).Args(dir); err == nil {
		t.Error("options without EFI or kernel accepted")
	}
	if _, err := os.Stat(OVMFVars); err == nil {
		args, err := Options{EFI: true}.Args(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(args, "if=pflash,format=raw,unit=1,file="+filepath.Join(dir, "OVMF_VARS.fd")) {
			t.Errorf("EFI variables are not a private copy: %v", args)
		}
	}
}

// TestConsoleAndKill boots the Debian kernel directly without an
// initramfs: it prints its banner, then panics for lack of a root file
// system. The runner must see the banner, report a timeout with the
// console tail for a line that never comes, and leave no QEMU behind.
func TestConsoleAndKill(t *testing.T) {
	kernels, _ := filepath.Glob("../../.cache/kernel/*/boot/vmlinuz-*")
	if len(kernels) == 0 {
		testenv.Unavailable(t, "no unpacked Debian kernel (make test runs scripts/fetch-kernel.sh)")
	}
	vm := Start(t, Options{Kernel: kernels[len(kernels)-1], Cmdline: "console=ttyS0 panic=-1", MemoryMB: 256})
	m := vm.WaitFor(regexp.MustCompile(`Linux version (\S+)\s`), 120*time.Second)
	if !strings.HasPrefix(m[1], "6.") {
		t.Errorf("kernel version %q", m[1])
	}
	_, err := vm.Match(regexp.MustCompile(`never-printed`), 2*time.Second)
	if err == nil {
		t.Fatal("Match found a line that was never printed")
	}
	if exited, _ := vm.Exited(); !exited && !strings.Contains(err.Error(), "did not match") {
		t.Errorf("timeout error %q", err)
	}
	pid := vm.cmd.Process.Pid
	vm.Kill()
	if exited, _ := vm.Exited(); !exited {
		t.Fatal("QEMU still running after Kill")
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("QEMU process %d still exists", pid)
	}
	if !strings.Contains(vm.Tail(1000), "Linux version") {
		t.Error("console tail lost the banner")
	}
}

// TestMonitor runs commands on a VM's QEMU monitor: the status of a
// running guest (a kernel that hangs after its panic, panic=0), then
// "quit", after which QEMU must have exited.
func TestMonitor(t *testing.T) {
	kernels, _ := filepath.Glob("../../.cache/kernel/*/boot/vmlinuz-*")
	if len(kernels) == 0 {
		testenv.Unavailable(t, "no unpacked Debian kernel (make test runs scripts/fetch-kernel.sh)")
	}
	vm := Start(t, Options{Kernel: kernels[len(kernels)-1], Cmdline: "console=ttyS0 panic=0", MemoryMB: 256})
	vm.WaitFor(regexp.MustCompile(`Linux version`), 120*time.Second)
	out, err := vm.Monitor("info status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "VM status: running") {
		t.Fatalf("info status: %q", out)
	}
	if _, err := vm.Monitor("no-such-command"); err != nil {
		t.Fatalf("an unknown command must answer with an error text, not break the monitor: %v", err)
	}
	vm.Monitor("quit") // QEMU may close the socket before prompting again
	if err := vm.WaitExit(30 * time.Second); err != nil {
		t.Fatalf("after quit: %v", err)
	}
}
