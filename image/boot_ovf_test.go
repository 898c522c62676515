package image

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/ovf"

	"github.com/hafw/hafw/internal/testenv"
	"github.com/hafw/hafw/internal/vmtest"
	"github.com/hafw/hafw/licensing"
	"github.com/hafw/hafw/licensing/devkey"
)

// blankVABuild is the VA-Standard image without a pre-staged
// configuration, as shipped to customers; it returns the raw disk.
func blankVABuild(t *testing.T) string {
	t.Helper()
	o := testOptions(t, "VA-Standard")
	o.KeepRawDisk = true
	dir, m := build(t, "VA-Standard-blank", o)
	return strings.TrimSuffix(output(t, dir, m, ".ova"), ".ova") + ".img"
}

// privateDisk returns a sparse copy of disk that the test may change.
func privateDisk(t *testing.T, disk string) string {
	t.Helper()
	testenv.RequireCommand(t, "cp")
	p := filepath.Join(t.TempDir(), filepath.Base(disk))
	if out, err := exec.Command("cp", "--sparse=always", disk, p).CombinedOutput(); err != nil {
		t.Fatalf("copying disk: %v: %s", err, out)
	}
	return p
}

// stageActivation writes an activation license (development vendor key)
// for udi onto the data partition of disk, as an operator installing the
// license file before first boot would.
func stageActivation(t *testing.T, disk, udi string) {
	t.Helper()
	testenv.RequireCommand(t, "debugfs")
	u, err := licensing.ParseUDI(udi)
	if err != nil {
		t.Fatal(err)
	}
	lic, err := devkey.Activation(u)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "activation.lic")
	if err := os.WriteFile(src, lic, 0o600); err != nil {
		t.Fatal(err)
	}
	fs := disk + "?offset=" + strconv.FormatInt(dataOffset, 10)
	for _, req := range []string{"mkdir licenses", "write " + src + " licenses/activation.lic"} {
		if out, err := exec.Command("debugfs", "-w", "-R", req, fs).CombinedOutput(); err != nil {
			t.Fatalf("debugfs %s: %v: %s", req, err, out)
		}
	}
	got, err := exec.Command("debugfs", "-R", "cat licenses/activation.lic", fs).Output()
	if err != nil || string(got) != string(lic) {
		t.Fatalf("license not readable back from the data partition (%v)", err)
	}
}

// ovfEnvISO makes the ISO image ESXi attaches to a VM for the OVF "iso"
// transport: ovf-env.xml at the root, with the given properties.
func ovfEnvISO(t *testing.T, props [][2]string) string {
	t.Helper()
	testenv.RequireCommand(t, "xorriso")
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1"
     xmlns:oe="http://schemas.dmtf.org/ovf/environment/1"
     xmlns:ve="http://www.vmware.com/schema/ovfenv" oe:id="">
   <PlatformSection><Kind>VMware ESXi</Kind><Version>8.0.2</Version></PlatformSection>
   <PropertySection>
`)
	for _, p := range props {
		b.WriteString(`      <Property oe:key="` + p[0] + `" oe:value="` + p[1] + `"/>` + "\n")
	}
	b.WriteString("   </PropertySection>\n</Environment>\n")
	dir := filepath.Join(t.TempDir(), "env")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ovf-env.xml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(t.TempDir(), "ovf-env.iso")
	if out, err := exec.Command("xorriso", "-as", "mkisofs", "-quiet", "-V", "OVF ENV", "-o", iso, dir).CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v: %s", err, out)
	}
	return iso
}

// TestOVFDeclaresISOTransport: the descriptor asks the hypervisor for the
// OVF environment on the one transport the init agent reads (ESXi's "iso"
// CD-ROM), as parsed by govmomi, and on no other: a declared guestinfo
// transport would make vCenter deliver the properties where the appliance
// never looks, and it would fall back to the wizard.
func TestOVFDeclaresISOTransport(t *testing.T) {
	dir, m := ovaBuild(t)
	f, err := os.Open(extractOVA(t, output(t, dir, m, ".ova"))[".ovf"])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env, err := ovf.Unmarshal(f)
	if err != nil {
		t.Fatalf("govmomi cannot parse the OVF: %v", err)
	}
	if env.VirtualSystem == nil || len(env.VirtualSystem.VirtualHardware) != 1 {
		t.Fatal("no virtual hardware section")
	}
	tr := env.VirtualSystem.VirtualHardware[0].Transport
	if tr == nil {
		t.Fatal("VirtualHardwareSection has no ovf:transport")
	}
	if strings.TrimSpace(*tr) != "iso" {
		t.Errorf("ovf:transport=%q, want only \"iso\" (the transport the init agent reads)", *tr)
	}
}

// TestBootVAOVFEnvironmentISO is the administrator's deployment of the OVA
// with its properties filled in: the blank VA-Standard disk (no
// pre-staged configuration) boots with ovf-env.xml on a CD-ROM, the way
// ESXi's iso transport hands it over, and the ready line shows the
// deployment's host name, role and addresses. The VA is activated (a
// license for the UDI that follows from the deployed host name and the VM
// UUID is on its data partition), since an unactivated VA may not take the
// primary role.
func TestBootVAOVFEnvironmentISO(t *testing.T) {
	const host, uuid = "ovfva", "5a1e0000-0000-4000-8000-0000000f0e01"
	bootOVF(t, uuid, "AIR-MSE-VA-K9:V01:"+host+"_"+uuid, [][2]string{
		{"hostname", host}, {"role", "primary"}, {"eth0", "10.212.0.10/24"}, {"gw", "10.212.0.1"},
		{"vip", "10.212.0.100/24"}, {"eth1", "10.212.1.1/30"}, {"dc", "eth1"},
		{"dns", "10.212.0.2"}, {"tz", "UTC"}, {"password", ""},
	}, []string{host, "VA-Standard", "primary", "10.212.0.10/24", "10.212.1.1/30", "activated"})
}

// TestBootVAOVFEnvironmentDHCP deploys with eth0=dhcp: the lease from
// QEMU's user network (10.0.2.15/24) must be on eth0 when the ready line
// is printed. Under TCG the first lease waited for the kernel's random
// pool (no RDRAND, no RNG device); with vmtest's virtio-rng device and the
// image's virtio_rng module this boot reached ready in 18 s instead of
// 30 s here (measured, not asserted: timings are not for tests).
func TestBootVAOVFEnvironmentDHCP(t *testing.T) {
	bootOVF(t, "5a1e0000-0000-4000-8000-0000000f0e02", "", [][2]string{
		{"hostname", "ovfdhcp"}, {"role", "none"}, {"eth0", "dhcp"},
	}, []string{"ovfdhcp", "VA-Standard", "none", "10.0.2.15/24", "none", "not-activated"})
}

// bootOVF boots a private copy of the blank VA-Standard disk with VM UUID
// uuid, an activation license for licenseUDI (none if empty) on its data
// partition and the OVF environment props on a CD-ROM, and checks the
// ready line's fields (host, profile, role, eth0, eth1, license).
func bootOVF(t *testing.T, uuid, licenseUDI string, props [][2]string, want []string) {
	t.Helper()
	testenv.Short(t, "QEMU boot")
	vmtest.Require(t, true)
	disk := privateDisk(t, blankVABuild(t))
	if licenseUDI != "" {
		stageActivation(t, disk, licenseUDI)
	}
	iso := ovfEnvISO(t, props)
	t.Parallel()
	vm := vmtest.Start(t, vmtest.Options{EFI: true, CDROM: iso,
		Disks: []vmtest.Disk{{Path: disk}},
		NICs:  []vmtest.NIC{{Model: "e1000"}, {Model: "e1000"}},
		Extra: []string{"-uuid", uuid},
	})
	start := time.Now()
	// A whole line: the console arrives in chunks.
	got := vm.WaitFor(regexp.MustCompile(readyRE.String()+`\r?\n`), bootTimeout)
	t.Logf("ready after %s: %s", time.Since(start).Round(100*time.Millisecond), strings.TrimSpace(got[0]))
	if !slices.Equal(got[1:], want) {
		t.Fatalf("ready line %q, want host=%s profile=%s role=%s eth0=%s eth1=%s license=%s\n--- console tail ---\n%s",
			got[0], want[0], want[1], want[2], want[3], want[4], want[5], vm.Tail(40))
	}
	if strings.Contains(vm.Console(), "OVF environment ignored") {
		t.Errorf("the agent rejected the OVF environment:\n%s", vm.Tail(40))
	}
}

// TestBootCtrlAltDelOrderlyShutdown presses ctrl-alt-del on a running
// appliance through the QEMU monitor (as an operator at the console or
// the hypervisor's "send ctrl-alt-del" would): the init agent, which asked
// the kernel to deliver it as SIGINT instead of an immediate reboot, stops
// hmd (which ends gracefully), unmounts the data partition and reboots.
// QEMU runs with -no-reboot, so the reboot ends QEMU with status 0; a
// kernel panic (PID 1 exiting) would show on the console instead.
func TestBootCtrlAltDelOrderlyShutdown(t *testing.T) {
	testenv.Short(t, "QEMU boot")
	vmtest.Require(t, true)
	dir, m := ovaBuild(t)
	disk := strings.TrimSuffix(output(t, dir, m, ".ova"), ".ova") + ".img"
	t.Parallel()
	vm := vmtest.Start(t, vmtest.Options{EFI: true,
		Disks: []vmtest.Disk{{Path: disk}},
		NICs:  []vmtest.NIC{{Model: "e1000"}, {Model: "e1000"}},
	})
	vm.WaitFor(regexp.MustCompile(readyRE.String()+`\r?\n`), bootTimeout)
	if out, err := vm.Monitor("sendkey ctrl-alt-delete"); err != nil {
		t.Fatalf("sendkey: %v (%q)", err, out)
	}
	start := time.Now()
	for _, step := range []string{`hafw-init: interrupt received, shutting down`, `hmd stopped gracefully`, `hafw-init: rebooting`} {
		vm.WaitFor(regexp.MustCompile(regexp.QuoteMeta(step)), 3*time.Minute)
	}
	if err := vm.WaitExit(2 * time.Minute); err != nil {
		t.Fatalf("QEMU after the reboot: %v\n--- console tail ---\n%s", err, vm.Tail(40))
	}
	t.Logf("ctrl-alt-del to reboot in %s", time.Since(start).Round(100*time.Millisecond))
	console := vm.Console()
	shutdown := console[strings.Index(console, "interrupt received"):]
	for _, bad := range []string{"Kernel panic", "Attempted to kill init", "hafw-init: warning"} {
		if strings.Contains(shutdown, bad) {
			t.Errorf("shutdown shows %q:\n%s", bad, shutdown)
		}
	}
}

// TestBootBlankDataPartition boots a disk whose data partition was never
// formatted (its start zeroed, as on a replaced or factory-fresh disk):
// the init agent formats it with the image's mke2fs (from the build host,
// with its shared libraries) and comes up unconfigured, role none. The
// disk is written by the guest, so the test then checks on the host that
// the partition carries an ext4 file system labelled hafw-data.
func TestBootBlankDataPartition(t *testing.T) {
	testenv.Short(t, "QEMU boot")
	vmtest.Require(t, true)
	testenv.RequireCommand(t, "dumpe2fs")
	disk := privateDisk(t, blankVABuild(t))
	f, err := os.OpenFile(disk, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt(make([]byte, 1<<20), dataOffset)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("zeroing the data partition: %v", err)
	}
	fs := disk + "?offset=" + strconv.FormatInt(dataOffset, 10)
	if out, err := exec.Command("dumpe2fs", "-h", fs).CombinedOutput(); err == nil {
		t.Fatalf("data partition still has a file system after zeroing:\n%s", out)
	}
	t.Parallel()
	vm := vmtest.Start(t, vmtest.Options{EFI: true,
		Disks: []vmtest.Disk{{Path: disk, Writable: true}},
		NICs:  []vmtest.NIC{{Model: "e1000"}, {Model: "e1000"}},
	})
	vm.WaitFor(regexp.MustCompile(`hafw-init: creating the data filesystem on blank /dev/vda2`), bootTimeout)
	got := vm.WaitFor(regexp.MustCompile(readyRE.String()+`\r?\n`), bootTimeout)
	if got[2] != "VA-Standard" || got[3] != "none" {
		t.Fatalf("ready line %q, want profile=VA-Standard role=none\n--- console tail ---\n%s", got[0], vm.Tail(40))
	}
	vm.Kill()
	out, err := exec.Command("dumpe2fs", "-h", fs).CombinedOutput()
	if err != nil {
		t.Fatalf("no file system on the data partition after the boot: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^Filesystem volume name:\s+hafw-data$`).Match(out) ||
		!regexp.MustCompile(`(?m)^Filesystem features:.*\bextent\b`).Match(out) {
		t.Fatalf("data partition after the boot:\n%s", out)
	}
}
