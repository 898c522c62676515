package image

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/internal/testenv"
	"github.com/hafw/hafw/internal/vmtest"
	"github.com/hafw/hafw/licensing/devkey"
	"github.com/hafw/hafw/upgrade"
)

// Versions of the upgrade test's firmware: the image, a good update and one
// whose slot cannot boot.
const (
	nextVersion   = "1.1.0-test"
	brokenVersion = "1.2.0-test"
)

// panicBootTimeout bounds the three boots of a slot that cannot boot: each
// is firmware, loader and kernel up to the panic, then the kernel's
// panic=10 wait, under TCG on a busy host.
const panicBootTimeout = 3 * bootTimeout

// TestBoot3355UpgradeCommitAndRollback is a field upgrade on real UEFI
// variables and systemd-boot's boot counting, typed on the console as an
// engineer would, with the bundles on disks of their own (as if written to
// a USB stick with dd):
//
//  1. on version 1.0.0, `hactl upgrade --reboot now` sends 1.1.0 to hmd's
//     management API, which writes it into slot B and has the init agent
//     reboot; 1.1.0 boots on trial, its hmd comes up, and the init agent
//     commits it once the appliance is healthy;
//  2. 1.1.0 installs 1.2.0, whose initramfs is damaged (the kernel panics),
//     into slot A and reboots; the loader's tries run out, 1.1.0 boots again
//     by itself and reports which version failed, and slot A is marked
//     failed.
func TestBoot3355UpgradeCommitAndRollback(t *testing.T) {
	testenv.Short(t, "QEMU boot")
	vmtest.Require(t, true)
	dir, m := primaryBuild(t)
	next := nextBundle(t)
	broken := brokenBundle(t)
	t.Parallel()
	c := &bootConsole{t: t, vm: vmtest.Start(t, vmtest.Options{EFI: true,
		Disks: []vmtest.Disk{{Path: output(t, dir, m, ".img")}, {Path: next}, {Path: broken}},
		NICs:  []vmtest.NIC{{Model: "virtio-net-pci"}, {Model: "virtio-net-pci"}},
		Extra: []string{"-action", "reboot=reset"},
	})}

	c.ready("primary")
	c.run("hactl upgrade --reboot now /dev/vdb")
	c.wait(regexp.MustCompile(`write: 100%`), commandTimeout)
	c.wait(regexp.MustCompile(`version `+regexp.QuoteMeta(nextVersion)+` installed in slot B \(entry hafw-b\+3\.conf, 3 tries\).*; the appliance reboots at `), commandTimeout)
	start := time.Now()
	c.wait(regexp.MustCompile(`hafw-upgrade: version `+regexp.QuoteMeta(nextVersion)+` boots on trial from slot B \(hafw-b[^)]*\.conf\)`), bootTimeout)
	c.wait(regexp.MustCompile(`msg="hmd ready" role=primary version=`+regexp.QuoteMeta(nextVersion)+` `), bootTimeout)
	ready := c.from
	c.ready("primary")
	c.wait(regexp.MustCompile(`hafw-upgrade: version `+regexp.QuoteMeta(nextVersion)+` in slot B is healthy and committed`), bootTimeout)
	t.Logf("upgrade to %s committed %s after the reboot", nextVersion, time.Since(start).Round(time.Second))
	c.from = ready // the console's prompt came before the commit

	c.run("hafw upgrade status; hafw upgrade install /dev/vdc && hafw reboot")
	status := c.wait(regexp.MustCompile(`(?s)Slot\s+Version.*?\n(A .*?)\r?\n(B .*?)\r?\n`), commandTimeout)
	if !regexp.MustCompile(`^A\s+1\.0\.0-test\s+good\s+hafw-a\.conf`).MatchString(status[1]) ||
		!regexp.MustCompile(`^B\s+`+regexp.QuoteMeta(nextVersion)+`\s+good\s+hafw-b\.conf\s+active`).MatchString(status[2]) {
		t.Fatalf("slots after the commit:\n%s\n%s", status[1], status[2])
	}
	c.wait(regexp.MustCompile(`version `+regexp.QuoteMeta(brokenVersion)+` installed in slot A`), commandTimeout)
	start = time.Now()
	for try := 1; try <= upgrade.DefaultTries; try++ {
		c.wait(regexp.MustCompile(`Kernel panic - not syncing`), panicBootTimeout)
		t.Logf("try %d of %s panicked after %s", try, brokenVersion, time.Since(start).Round(time.Second))
	}
	failed := c.wait(regexp.MustCompile(`hafw-upgrade: (Upgrade to version `+regexp.QuoteMeta(brokenVersion)+` failed and was rolled back to version `+regexp.QuoteMeta(nextVersion)+`: [^\r\n]*)`), bootTimeout)
	c.ready("primary")
	t.Logf("rolled back %s after the reboot: %s", time.Since(start).Round(time.Second), failed[1])
	if !strings.Contains(failed[1], "no healthy boot in 3 tries") {
		t.Errorf("rollback reason %q, want the tries that ran out", failed[1])
	}

	c.run("hafw upgrade status")
	status = c.wait(regexp.MustCompile(`(?s)Slot\s+Version.*?\n(A .*?)\r?\n(B .*?)\r?\n`), commandTimeout)
	if !regexp.MustCompile(`^A\s+`+regexp.QuoteMeta(brokenVersion)+`\s+failed\s+-\s+failed: no healthy boot`).MatchString(status[1]) ||
		!regexp.MustCompile(`^B\s+`+regexp.QuoteMeta(nextVersion)+`\s+good\s+hafw-b\.conf\s+active`).MatchString(status[2]) {
		t.Fatalf("slots after the rollback:\n%s\n%s", status[1], status[2])
	}
}

// nextBundle is the update bundle of a real build of the next version, as
// a disk.
func nextBundle(t *testing.T) string {
	o := testOptions(t, "3355")
	o.Version = nextVersion
	dir, m := build(t, "3355-next", o)
	return bundleDisk(t, output(t, dir, m, upgrade.Ext))
}

// brokenBundle is a correctly signed bundle whose initramfs is not one:
// the kernel boots, finds no root and panics, as a firmware with a broken
// early boot would.
func brokenBundle(t *testing.T) string {
	o := testOptions(t, "3355")
	dir := t.TempDir()
	junk := filepath.Join(dir, upgrade.InitrdName)
	if err := os.WriteFile(junk, bytes.Repeat([]byte("not an initramfs\n"), 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "broken"+upgrade.Ext)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := upgrade.Write(f, upgrade.Manifest{Profile: "3355", Version: brokenVersion, ConfigSchema: upgrade.DataSchema, SourceDateEpoch: testEpoch.Unix()},
		[]upgrade.File{{Name: upgrade.KernelName, Path: o.Kernel.Image}, {Name: upgrade.InitrdName, Path: junk}}, devkey.Private(), testEpoch); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return bundleDisk(t, path)
}

// bundleDisk copies a bundle into a raw disk file: the bundle from its
// first byte, zeros up to the next sector (tar's end marker is zeros, so
// the installer reads the device like the file).
func bundleDisk(t *testing.T, bundle string) string {
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, make([]byte, 512-len(data)%512+1024)...)
	disk := filepath.Join(t.TempDir(), filepath.Base(bundle)+".disk")
	if err := os.WriteFile(disk, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return disk
}

// TestBoot3355UpgradePowerCut pulls the power while the installer writes
// slot B (QEMU killed, the boot disk's writes slowed to 1 MiB/s so that
// the cut lands in the write): the next boot is version 1.0.0 from slot A,
// which says the upgrade was interrupted and marks slot B empty.
func TestBoot3355UpgradePowerCut(t *testing.T) {
	testenv.Short(t, "QEMU boot")
	vmtest.Require(t, true)
	dir, m := primaryBuild(t)
	next := nextBundle(t)
	t.Parallel()
	disk := filepath.Join(t.TempDir(), "disk.img")
	if out, err := exec.Command("cp", "--sparse=always", output(t, dir, m, ".img"), disk).CombinedOutput(); err != nil {
		t.Fatalf("copy the disk: %v\n%s", err, out)
	}
	opts := vmtest.Options{EFI: true,
		Disks: []vmtest.Disk{{Path: disk, Writable: true}, {Path: next}},
		NICs:  []vmtest.NIC{{Model: "virtio-net-pci"}, {Model: "virtio-net-pci"}},
	}
	c := &bootConsole{t: t, vm: vmtest.Start(t, opts)}
	c.ready("primary")
	if _, err := c.vm.Monitor("block_set_io_throttle disk0 0 0 1048576 0 0 0"); err != nil {
		t.Fatalf("throttle the boot disk's writes: %v", err)
	}
	if out, err := c.vm.Monitor("info block disk0"); err != nil || !strings.Contains(out, "bps_wr=1048576") {
		t.Fatalf("the boot disk's writes are not throttled: %v\n%s", err, out)
	}
	c.run("hafw upgrade install /dev/vdb")
	c.wait(regexp.MustCompile(`write: [1-9]0%`), commandTimeout)
	c.vm.Kill()
	t.Logf("power cut while slot B was written")

	c = &bootConsole{t: t, vm: vmtest.Start(t, opts)}
	got := c.wait(regexp.MustCompile(`hafw-upgrade: (Upgrade to version `+regexp.QuoteMeta(nextVersion)+` was interrupted while slot B was written[^\r\n]*)`), bootTimeout)
	c.ready("primary")
	t.Logf("after the power cut: %s", got[1])
	c.run("hafw upgrade status")
	status := c.wait(regexp.MustCompile(`(?s)Slot\s+Version.*?\n(A .*?)\r?\n(B .*?)\r?\n`), commandTimeout)
	if !regexp.MustCompile(`^A\s+1\.0\.0-test\s+good\s+hafw-a\.conf\s+active`).MatchString(status[1]) ||
		!regexp.MustCompile(`^B\s+-\s+-\s+-`).MatchString(status[2]) {
		t.Fatalf("slots after the power cut:\n%s\n%s", status[1], status[2])
	}
}
