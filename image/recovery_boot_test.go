package image

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hafw/hafw/internal/testenv"
	"github.com/hafw/hafw/internal/vmtest"
)

// TestBoot3355RecoveryEntry boots the raw 3355 disk through its "recovery"
// loader entry and sees the init agent's recovery messages and a ready
// line with no HA role. The entry is selected the way an engineer's menu
// choice would be, without racing the 3 s menu under TCG: a copy of the
// disk gets `default hafw-a-recovery.conf` in loader.conf; the entry
// itself is the one the build wrote, unchanged.
func TestBoot3355RecoveryEntry(t *testing.T) {
	testenv.Short(t, "QEMU boot")
	vmtest.Require(t, true)
	testenv.RequireCommand(t, "mtype", "mcopy", "cp")
	dir, m := rawBuild(t)
	t.Parallel()
	disk := filepath.Join(t.TempDir(), "recovery.img")
	if out, err := exec.Command("cp", "--sparse=always", output(t, dir, m, ".img"), disk).CombinedOutput(); err != nil {
		t.Fatalf("copying disk: %v: %s", err, out)
	}
	esp := disk + "@@" + "1048576"
	entry, err := exec.Command("mtype", "-i", esp, "::/loader/entries/hafw-a-recovery.conf").CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?m)^options .*\bhafw\.recovery\b`).Match(entry) ||
		!strings.Contains(string(entry), "linux /hafw/a/vmlinuz") {
		t.Fatalf("recovery entry: %v\n%s", err, entry)
	}
	conf := filepath.Join(t.TempDir(), "loader.conf")
	if err := os.WriteFile(conf, []byte("default hafw-a-recovery.conf\ntimeout 3\neditor no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mcopy", "-o", "-i", esp, conf, "::/loader/loader.conf").CombinedOutput(); err != nil {
		t.Fatalf("mcopy: %v: %s", err, out)
	}
	vm := vmtest.Start(t, vmtest.Options{EFI: true,
		Disks: []vmtest.Disk{{Path: disk}},
		NICs:  []vmtest.NIC{{Model: "virtio-net-pci"}, {Model: "virtio-net-pci"}},
	})
	vm.WaitFor(regexp.MustCompile(`hafw-recovery: recovery mode requested by`), bootTimeout)
	// A whole line: the console arrives in chunks.
	got := vm.WaitFor(regexp.MustCompile(readyRE.String()+`\r?\n`), bootTimeout)
	if got[1] != "lab3355" || got[2] != "3355" || got[3] != "none" || got[4] != "10.210.0.10/24" {
		t.Fatalf("ready line %q, want host=lab3355 profile=3355 role=none eth0=10.210.0.10/24", got[0])
	}
}
