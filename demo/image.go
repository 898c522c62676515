package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hafw/hafw/hwprofiles"
	"github.com/hafw/hafw/image"
	"github.com/hafw/hafw/licensing"
	"github.com/hafw/hafw/licensing/devkey"
)

// Firmware is a built appliance image and what the demo boots from it:
// slot A's kernel and initramfs and the boot entry's kernel command line,
// taken out of the image's EFI system partition.
type Firmware struct {
	Disk    string // raw disk (GPT: ESP, hafw-data)
	Kernel  string
	Initrd  string
	Cmdline string
	// DataOffset is the byte offset of the hafw-data partition.
	DataOffset int64
}

// BuildFirmware builds the VA-Standard image with the project's builder
// (the same inputs `make image` uses: the unpacked Debian kernel under
// srcDir/.cache/kernel, the development vendor key) into dir, keeping the
// raw disk behind the OVA, and extracts slot A from it.
func BuildFirmware(ctx context.Context, srcDir, dir string, log *slog.Logger) (*Firmware, error) {
	prof, err := hwprofiles.Lookup("VA-Standard")
	if err != nil {
		return nil, err
	}
	k, err := image.FindUnpackedKernel(filepath.Join(srcDir, ".cache", "kernel"))
	if err != nil {
		return nil, fmt.Errorf("%w (make kernel)", err)
	}
	const version = "1.0.0-demo"
	if _, err := image.Build(ctx, image.Options{
		Profile: prof, Kernel: k, Version: version, SrcDir: srcDir,
		OutDir: dir, CacheDir: filepath.Join(srcDir, ".cache"),
		VendorPub: devkey.PublicKeyFile(), VendorKey: devkey.Private(), Epoch: time.Unix(1700000000, 0).UTC(),
		KeepRawDisk: true, Log: log,
	}); err != nil {
		return nil, fmt.Errorf("building the VA-Standard image: %w", err)
	}
	fw := &Firmware{Disk: filepath.Join(dir, "hafw-"+prof.Model+"-"+version+".img")}
	parts, err := partitions(fw.Disk)
	if err != nil {
		return nil, err
	}
	esp, ok := parts["hafw-esp"]
	if !ok {
		return nil, fmt.Errorf("%s has no hafw-esp partition", fw.Disk)
	}
	if fw.DataOffset, ok = parts["hafw-data"]; !ok {
		return nil, fmt.Errorf("%s has no hafw-data partition", fw.Disk)
	}
	fw.Kernel, fw.Initrd = filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initrd.zst")
	entry := filepath.Join(dir, "hafw-a.conf")
	img := fmt.Sprintf("%s@@%d", fw.Disk, esp)
	for _, f := range [][2]string{{"::hafw/a/vmlinuz", fw.Kernel}, {"::hafw/a/initrd.zst", fw.Initrd}, {"::loader/entries/hafw-a.conf", entry}} {
		if err := runCmd("mcopy", "-o", "-i", img, f[0], f[1]); err != nil {
			return nil, fmt.Errorf("extracting %s: %w", f[0], err)
		}
	}
	conf, err := os.ReadFile(entry)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(conf), "\n") {
		if rest, ok := strings.CutPrefix(line, "options "); ok {
			fw.Cmdline = strings.TrimSpace(rest)
		}
	}
	if fw.Cmdline == "" {
		return nil, fmt.Errorf("%s: boot entry has no options line", entry)
	}
	return fw, nil
}

// partitions maps GPT partition names to byte offsets (sfdisk --json).
func partitions(disk string) (map[string]int64, error) {
	out, err := exec.Command("sfdisk", "--json", disk).Output()
	if err != nil {
		return nil, fmt.Errorf("sfdisk --json %s: %w", disk, err)
	}
	var pt struct {
		PartitionTable struct {
			SectorSize int64 `json:"sectorsize"`
			Partitions []struct {
				Start int64  `json:"start"`
				Name  string `json:"name"`
			} `json:"partitions"`
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal(out, &pt); err != nil {
		return nil, fmt.Errorf("reading the partition table of %s: %w", disk, err)
	}
	ss := pt.PartitionTable.SectorSize
	if ss == 0 {
		ss = 512
	}
	m := map[string]int64{}
	for _, p := range pt.PartitionTable.Partitions {
		m[p.Name] = p.Start * ss
	}
	return m, nil
}

// ApplianceDisk copies the firmware's disk (sparse) to path and stages an
// activation license for udi on its data partition, as the factory or the
// operator installing the license file would; licenseUDI differs from the
// appliance's own UDI only to build a wrongly licensed appliance, and an
// empty licenseUDI stages none.
func (fw *Firmware) ApplianceDisk(path string, licenseUDI string) error {
	if err := runCmd("cp", "--sparse=always", fw.Disk, path); err != nil {
		return err
	}
	if licenseUDI == "" {
		return nil
	}
	udi, err := licensing.ParseUDI(licenseUDI)
	if err != nil {
		return fmt.Errorf("license UDI: %w", err)
	}
	lic, err := devkey.Activation(udi)
	if err != nil {
		return fmt.Errorf("issuing the activation license: %w", err)
	}
	src := path + ".lic"
	if err := os.WriteFile(src, lic, 0o600); err != nil {
		return fmt.Errorf("staging the license: %w", err)
	}
	defer os.Remove(src)
	fs := fmt.Sprintf("%s?offset=%d", path, fw.DataOffset)
	// mkdir fails harmlessly when the image already has licenses/; the
	// read-back below is what proves the file is there.
	exec.Command("debugfs", "-w", "-R", "mkdir licenses", fs).Run()
	if err := runCmd("debugfs", "-w", "-R", "write "+src+" licenses/activation.lic", fs); err != nil {
		return err
	}
	got, err := exec.Command("debugfs", "-R", "cat licenses/activation.lic", fs).Output()
	if err != nil || string(got) != string(lic) {
		return fmt.Errorf("license not readable back from the data partition of %s (%v)", path, err)
	}
	return nil
}
