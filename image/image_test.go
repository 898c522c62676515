package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/mkuimage/cpio"
	"github.com/vmware/govmomi/ovf"

	"github.com/hafw/hafw/internal/testenv"
	"github.com/hafw/hafw/internal/vmtest"
	"github.com/hafw/hafw/licensing/devkey"
	"github.com/hafw/hafw/upgrade"
)

// TestRawDiskLayout reads the 3355 image back with independent tools:
// sfdisk for the GPT, mtools for the ESP, debugfs for the data partition,
// and u-root's cpio reader for the initramfs.
func TestRawDiskLayout(t *testing.T) {
	testenv.RequireCommand(t, "sfdisk", "debugfs", "mtype")
	dir, m := rawBuild(t)
	img := output(t, dir, m, ".img")

	out, err := exec.Command("sfdisk", "--json", img).Output()
	if err != nil {
		t.Fatalf("sfdisk: %v", err)
	}
	var pt struct {
		PartitionTable struct {
			Label      string
			Partitions []struct {
				Start, Size int64
				Type, Name  string
			}
		}
	}
	if err := json.Unmarshal(out, &pt); err != nil {
		t.Fatal(err)
	}
	parts := pt.PartitionTable.Partitions
	if pt.PartitionTable.Label != "gpt" || len(parts) != 2 ||
		parts[0].Name != "hafw-esp" || !strings.EqualFold(parts[0].Type, TypeESP.String()) ||
		parts[1].Name != "hafw-data" || !strings.EqualFold(parts[1].Type, TypeLinuxData.String()) {
		t.Fatalf("partition table: %s", out)
	}
	if out, err := exec.Command("sfdisk", "--verify", img).CombinedOutput(); err != nil || !bytes.Contains(out, []byte("No errors detected")) {
		t.Fatalf("sfdisk --verify: %v\n%s", err, out)
	}

	esp := fmt.Sprintf("%s@@%d", img, parts[0].Start*Sector)
	mtype := func(path string) string {
		t.Helper()
		out, err := exec.Command("mtype", "-i", esp, "::"+path).Output()
		if err != nil {
			t.Fatalf("mtype %s: %v", path, err)
		}
		return string(out)
	}
	if got := mtype("/loader/loader.conf"); !strings.Contains(got, "default hafw-*\n") {
		t.Errorf("loader.conf does not choose among the hafw entries:\n%s", got)
	}
	if got := mtype("/loader/entries/hafw-a.conf"); !strings.Contains(got, "linux /hafw/a/vmlinuz") || !strings.Contains(got, "console=ttyS0") ||
		!strings.Contains(got, "sort-key hafw\nversion 1-1.0.0-test\n") {
		t.Errorf("slot A entry:\n%s", got)
	}
	if got := mtype("/loader/entries/hafw-a-recovery.conf"); !strings.Contains(got, "hafw.recovery") || !strings.Contains(got, "sort-key hafw-recovery\n") {
		t.Errorf("recovery entry:\n%s", got)
	}
	slots, err := upgrade.ParseSlots([]byte(mtype("/hafw/slots.json")))
	if err != nil || slots.Active != "a" || slots.Slots["a"].Version != "1.0.0-test" || slots.Slots["a"].State != upgrade.StateGood || slots.Slots["b"].Version != "" {
		t.Errorf("slots.json = %+v (%v)", slots, err)
	}

	data := fmt.Sprintf("%s?offset=%d", img, parts[1].Start*Sector)
	out, err = exec.Command("debugfs", "-R", "cat /config/appliance.json", data).Output()
	if err != nil || !bytes.Contains(out, []byte(`"hostname": "lab3355"`)) {
		t.Fatalf("pre-staged configuration on the data partition: %v\n%s", err, out)
	}
	out, err = exec.Command("debugfs", "-R", "stats", data).CombinedOutput()
	if err != nil || !regexp.MustCompile(`Filesystem volume name:\s+hafw-data`).Match(out) {
		t.Fatalf("data partition label: %v\n%s", err, out)
	}

	// The initramfs, read back from slot A.
	initrd := filepath.Join(t.TempDir(), "initrd.zst")
	if out, err := exec.Command("mcopy", "-i", esp, "::/hafw/a/initrd.zst", initrd).CombinedOutput(); err != nil {
		t.Fatalf("mcopy: %v\n%s", err, out)
	}
	files := readInitramfs(t, initrd)
	if got := files["etc/hafw/profile"]; got != "3355\n" {
		t.Errorf("/etc/hafw/profile = %q", got)
	}
	if got := files["etc/hafw/version"]; got != "1.0.0-test\n" {
		t.Errorf("/etc/hafw/version = %q", got)
	}
	if files["etc/hafw/vendor.pub"] != string(devkey.PublicKeyFile()) {
		t.Errorf("/etc/hafw/vendor.pub = %q, want the development key", files["etc/hafw/vendor.pub"])
	}
	if files["init"] != "symlink:bin/init" {
		t.Errorf("/init = %q, want a symlink to bin/init", files["init"])
	}
	for _, c := range []string{"bin/init", "bin/hmd", "bbin/bb", "bbin/ls", "bbin/ip", "bbin/dmesg", "bbin/gosh", "bin/sh"} {
		if _, ok := files[c]; !ok {
			t.Errorf("initramfs lacks %s", c)
		}
	}
	// Our commands are links to the one multi-call binary.
	for _, c := range []string{"bin/init", "bin/hmd", "bin/setup", "bin/hactl", "bin/tracker"} {
		if files[c] != "symlink:"+MultiCallName {
			t.Errorf("/%s = %.40q, want a link to %s", c, files[c], MultiCallName)
		}
	}
	// Every link must lead to a file in the archive: a dangling /bin/ls
	// boots fine and only fails in the hands of a field engineer.
	for name, content := range files {
		if strings.HasPrefix(content, "symlink:") {
			if _, err := resolveLink(files, name); err != nil {
				t.Errorf("initramfs link %s: %v", name, err)
			}
		}
	}
	mods := strings.Fields(files["etc/hafw/modules.list"])
	names := make([]string, len(mods))
	for i, p := range mods {
		if _, ok := files[strings.TrimPrefix(p, "/")]; !ok || !strings.HasPrefix(p, "/lib/modules/") {
			t.Errorf("modules.list names %s, which is not in the initramfs", p)
		}
		names[i] = ModuleName(p)
	}
	for _, want := range append([]string{"igb", "bnx2", "megaraid_sas"}, LabModules...) {
		if !slices.Contains(names, want) {
			t.Errorf("modules.list lacks %s: %v", want, names)
		}
	}
	if i, j := slices.Index(names, "virtio_pci_modern_dev"), slices.Index(names, "virtio_pci"); i < 0 || i > j {
		t.Errorf("virtio_pci_modern_dev (at %d) must precede virtio_pci (at %d)", i, j)
	}
	if m.InitramfsBytes > 20<<20 {
		t.Errorf("compressed initramfs is %d bytes, over the 20 MB budget", m.InitramfsBytes)
	}
	t.Logf("initramfs %.1f MiB compressed, %d modules, commands %v", float64(m.InitramfsBytes)/(1<<20), len(mods), m.Commands)
}

// readInitramfs returns the initramfs members: file contents, and
// "symlink:TARGET" for links.
func readInitramfs(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := zstd.NewReader(bufio.NewReader(f), zstd.WithDecoderMaxWindow(initramfsWindow))
	if err != nil {
		t.Fatalf("initramfs is not zstd: %v", err)
	}
	defer zr.Close()
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("decompressing initramfs: %v", err)
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("reading cpio: %v", err)
	}
	out := map[string]string{}
	for _, r := range recs {
		switch r.Mode & cpio.S_IFMT {
		case cpio.S_IFLNK:
			target, _ := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
			out[r.Name] = "symlink:" + string(target)
		case cpio.S_IFREG:
			data, _ := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
			out[r.Name] = string(data)
		}
	}
	return out
}

// TestReproducible builds the 3355 image a second time from the same
// inputs and compares every output byte for byte (via SHA-256).
func TestReproducible(t *testing.T) {
	testenv.Short(t, "a second full image build")
	_, first := rawBuild(t)
	o := testOptions(t, "3355")
	o.ConfigFile = labConfig(t, "lab3355", "10.210.0.10/24")
	o.OutDir = t.TempDir()
	second, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(inputHashes(first), inputHashes(second)) {
		// Only possible when the source tree is edited while the test runs
		// (engineers sharing a working tree); a clean checkout cannot.
		testenv.Unavailable(t, fmt.Sprintf("the inputs changed between the two builds:\n%+v\n%+v", first.Inputs, second.Inputs))
	}
	if !slices.Equal(first.Outputs, second.Outputs) {
		t.Fatalf("two builds of the same inputs differ:\n%+v\n%+v", first.Outputs, second.Outputs)
	}
	disk := readManifest(t, filepath.Join(o.OutDir, "hafw-3355-1.0.0-test.manifest.json"))
	if disk.Outputs[0].SHA256 != second.Outputs[0].SHA256 {
		t.Fatalf("manifest on disk does not match the build result")
	}
}

// inputHashes lists name=sha256 of a build's inputs (origins are paths
// that may differ between equivalent builds).
func inputHashes(m *Manifest) []string {
	var out []string
	for _, in := range m.Inputs {
		out = append(out, in.Name+"="+in.SHA256)
	}
	return out
}

// TestVMDK checks the OVA's disk with qemu-img: check, info (vmdk,
// streamOptimized, the profile's capacity), and compare against the raw
// disk it was made from; then proves compare would catch a damaged grain.
func TestVMDK(t *testing.T) {
	testenv.RequireCommand(t, "qemu-img")
	dir, m := ovaBuild(t)
	vmdk := extractOVA(t, output(t, dir, m, ".ova"))[".vmdk"]
	raw := filepath.Join(dir, "hafw-VA-Standard-1.0.0-test.img")

	if out, err := exec.Command("qemu-img", "check", vmdk).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img check: %v\n%s", err, out)
	}
	out, err := exec.Command("qemu-img", "info", "--output=json", vmdk).Output()
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Format      string `json:"format"`
		VirtualSize int64  `json:"virtual-size"`
		Specific    struct {
			Data struct {
				CreateType string `json:"create-type"`
			} `json:"data"`
		} `json:"format-specific"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	if info.Format != "vmdk" || info.Specific.Data.CreateType != "streamOptimized" || info.VirtualSize != 150<<30 {
		t.Fatalf("qemu-img info: %s", out)
	}
	if out, err := exec.Command("qemu-img", "compare", "-f", "raw", "-F", "vmdk", raw, vmdk).CombinedOutput(); err != nil {
		t.Fatalf("VMDK content differs from the raw disk: %v\n%s", err, out)
	}

	// Flip one byte inside the first compressed grain: compare must fail.
	bad := filepath.Join(t.TempDir(), "bad.vmdk")
	data, err := os.ReadFile(vmdk)
	if err != nil {
		t.Fatal(err)
	}
	data[vmdkOverhead*Sector+12+40] ^= 0xff
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("qemu-img", "compare", "-f", "raw", "-F", "vmdk", raw, bad).CombinedOutput(); err == nil {
		t.Fatalf("qemu-img compare accepted a damaged VMDK:\n%s", out)
	}
}

// extractOVA checks the OVA's member order and manifest and returns the
// extracted members by extension.
func extractOVA(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	tr := tar.NewReader(f)
	var order []string
	out := map[string]string{}
	sums := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Base(h.Name))
		w, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		hash := sha256.New()
		if _, err := io.Copy(io.MultiWriter(w, hash), tr); err != nil {
			t.Fatal(err)
		}
		w.Close()
		order = append(order, filepath.Ext(h.Name))
		out[filepath.Ext(h.Name)] = p
		sums[h.Name] = hex.EncodeToString(hash.Sum(nil))
	}
	if !slices.Equal(order, []string{".ovf", ".vmdk", ".mf"}) {
		t.Fatalf("OVA members in order %v, want .ovf, .vmdk, .mf", order)
	}
	mf, err := os.ReadFile(out[".mf"])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(mf)), "\n")
	if len(lines) != 2 {
		t.Fatalf("manifest:\n%s", mf)
	}
	for _, l := range lines {
		var name, sum string
		if _, err := fmt.Sscanf(strings.Replace(l, ")= ", ") ", 1), "SHA256(%s %s", &name, &sum); err != nil {
			t.Fatalf("manifest line %q: %v", l, err)
		}
		name = strings.TrimSuffix(name, ")")
		if sums[name] != sum {
			t.Errorf("manifest says %s has SHA-256 %s, the member has %s", name, sum, sums[name])
		}
	}
	return out
}

// TestOVFDescriptor parses the descriptor with govmomi's OVF parser and
// checks the profile's sizes, the NICs, EFI and the deployment properties.
func TestOVFDescriptor(t *testing.T) {
	dir, m := ovaBuild(t)
	members := extractOVA(t, output(t, dir, m, ".ova"))
	f, err := os.Open(members[".ovf"])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env, err := ovf.Unmarshal(f)
	if err != nil {
		t.Fatalf("govmomi cannot parse the OVF: %v", err)
	}
	if env.Disk == nil || len(env.Disk.Disks) != 1 || env.Disk.Disks[0].Capacity != "150" ||
		env.Disk.Disks[0].CapacityAllocationUnits == nil || *env.Disk.Disks[0].CapacityAllocationUnits != "byte * 2^30" {
		t.Fatalf("disk section: %+v", env.Disk)
	}
	vs := env.VirtualSystem
	if vs == nil || len(vs.VirtualHardware) != 1 {
		t.Fatal("no virtual hardware section")
	}
	hw := vs.VirtualHardware[0]
	var cpus, memMB, nics int
	for _, it := range hw.Item {
		q := 0
		if it.VirtualQuantity != nil {
			q = int(*it.VirtualQuantity)
		}
		switch *it.ResourceType {
		case 3:
			cpus = q
		case 4:
			memMB = q
		case 10:
			nics++
			if it.ResourceSubType == nil || *it.ResourceSubType != "E1000" {
				t.Errorf("NIC %s is not E1000", it.ElementName)
			}
		}
	}
	if cpus != 8 || memMB != 16384 || nics != 2 {
		t.Errorf("hardware: %d vCPU, %d MB, %d NICs; want 8, 16384, 2", cpus, memMB, nics)
	}
	efi := false
	for _, c := range hw.Config {
		if c.Key == "firmware" && c.Value == "efi" {
			efi = true
		}
	}
	if !efi {
		t.Error("OVF does not ask for EFI firmware")
	}
	if len(vs.Product) != 1 {
		t.Fatal("no product section")
	}
	var keys []string
	for _, p := range vs.Product[0].Property {
		keys = append(keys, p.Key)
	}
	for _, want := range []string{"hostname", "role", "eth0", "gw", "vip", "dns", "ntp", "tz", "password"} {
		if !slices.Contains(keys, want) {
			t.Errorf("ProductSection lacks property %q (has %v)", want, keys)
		}
	}
}

// readyRE matches the init agent's ready line; waits append `\r?\n` so that a
// line still being written cannot match with a cut-off last field.
var readyRE = regexp.MustCompile(`hafw-ready: host=(\S+) profile=(\S+) role=(\S+) eth0=(\S+) eth1=(\S+) license=(\S+)`)

// bootTimeout is generous: OVMF under TCG on a shared, busy machine.
const bootTimeout = 300 * time.Second

// TestBoot3355 boots the raw 3355 disk through OVMF and systemd-boot with
// two virtio NICs and waits for the init agent's ready line, which must
// reflect the pre-staged configuration.
func TestBoot3355(t *testing.T) {
	testenv.Short(t, "QEMU boot")
	vmtest.Require(t, true)
	dir, m := rawBuild(t)
	t.Parallel()
	vm := vmtest.Start(t, vmtest.Options{EFI: true,
		Disks: []vmtest.Disk{{Path: output(t, dir, m, ".img")}},
		NICs:  []vmtest.NIC{{Model: "virtio-net-pci"}, {Model: "virtio-net-pci"}},
	})
	checkReady(t, vm, "lab3355", "3355", "10.210.0.10/24")
}

// TestBootVAStandard boots the VMDK taken out of the OVA, with two e1000
// NICs as the OVF describes.
func TestBootVAStandard(t *testing.T) {
	testenv.Short(t, "QEMU boot")
	vmtest.Require(t, true)
	dir, m := ovaBuild(t)
	vmdk := extractOVA(t, output(t, dir, m, ".ova"))[".vmdk"]
	t.Parallel()
	vm := vmtest.Start(t, vmtest.Options{EFI: true,
		Disks: []vmtest.Disk{{Path: vmdk, Format: "vmdk"}},
		NICs:  []vmtest.NIC{{Model: "e1000"}, {Model: "e1000"}},
	})
	checkReady(t, vm, "labva", "VA-Standard", "10.211.0.10/24")
}

// checkReady waits for the ready line and checks that it reflects the
// image: the host name and eth0 address from the pre-staged configuration
// on the data partition (so the disk, its modules and the NIC drivers
// work), the profile from /etc/hafw/profile, and no HA role.
func checkReady(t *testing.T, vm *vmtest.VM, host, profile, eth0 string) {
	t.Helper()
	start := time.Now()
	got := vm.WaitFor(regexp.MustCompile(readyRE.String()+`\r?\n`), bootTimeout) // whole line: a half-written one must not match
	t.Logf("ready after %s: %s", time.Since(start).Round(100*time.Millisecond), got[0])
	if got[1] != host || got[2] != profile || got[3] != "none" || got[4] != eth0 {
		t.Fatalf("ready line %q, want host=%s profile=%s role=none eth0=%s\n--- console tail ---\n%s", got[0], host, profile, eth0, vm.Tail(30))
	}
}

// TestBadInput: each mistake gives one clear error and leaves the output
// directory as it was.
func TestBadInput(t *testing.T) {
	base := testOptions(t, "3355")
	notAFile := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notAFile, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	emptyModules := filepath.Join(t.TempDir(), base.Kernel.Release())
	if err := os.Mkdir(emptyModules, 0o755); err != nil {
		t.Fatal(err)
	}
	badConfig := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(badConfig, []byte(`{"hostname":"-bad-","role":"boss"}`), 0o644)
	badLicense := filepath.Join(t.TempDir(), "bad.lic")
	os.WriteFile(badLicense, []byte("not a license\n"), 0o644)

	cases := []struct {
		name   string
		mutate func(o *Options)
		want   string
	}{
		{"missing kernel", func(o *Options) { o.Kernel.Image = "/nonexistent/vmlinuz" }, "does not exist"},
		{"not a kernel", func(o *Options) { o.Kernel.Image = notAFile }, "not a kernel image"},
		{"missing modules", func(o *Options) { o.Kernel.Modules = emptyModules }, "no .ko files"},
		{"modules of another kernel", func(o *Options) { o.Kernel.Modules = t.TempDir() }, "modules in"},
		{"bad config", func(o *Options) { o.ConfigFile = badConfig }, "--config"},
		{"bad license", func(o *Options) { o.LicenseFiles = []string{badLicense} }, "--license"},
		{"bad vendor key", func(o *Options) { o.VendorPub = []byte("junk") }, "vendor public key"},
		{"unwritable output", func(o *Options) { o.OutDir = filepath.Join(notAFile, "out") }, "output directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := base
			o.OutDir = t.TempDir()
			c.mutate(&o)
			_, err := Build(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if entries, _ := os.ReadDir(o.OutDir); len(entries) != 0 {
				t.Errorf("failed build left %d entries in the output directory", len(entries))
			}
		})
	}
	if !errors.Is(func() error { _, err := Build(context.Background(), Options{}); return err }(), ErrNoKernel) {
		t.Error("empty options: want ErrNoKernel")
	}
}

// resolveLink follows name's symlinks inside an initramfs listing (as
// readInitramfs returns it: "symlink:TARGET" for links) to a regular entry.
func resolveLink(files map[string]string, name string) (string, error) {
	for range 8 {
		content, ok := files[name]
		if !ok {
			return "", fmt.Errorf("%s does not exist", name)
		}
		target, isLink := strings.CutPrefix(content, "symlink:")
		if !isLink {
			return name, nil
		}
		if path.IsAbs(target) {
			name = strings.TrimPrefix(path.Clean(target), "/")
		} else {
			name = path.Join(path.Dir(name), target)
		}
	}
	return "", fmt.Errorf("%s: too many levels of links", name)
}
