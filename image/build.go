// Package image builds the appliance firmware images: an initramfs with the
// init agent as /init (u-root's uimage library), a GPT disk with an EFI
// system partition holding boot slots A and B (systemd-boot loader entries)
// and the ext4 data partition, written as a raw disk for the physical
// models or as an OVA (OVF + streamOptimized VMDK + manifest) for the
// virtual ones, plus a JSON build manifest. Every output is a function of
// the inputs and the build epoch, so two builds compare byte for byte.
package image

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hwprofiles"
	"github.com/hafw/hafw/internal/atomicfile"
	"github.com/hafw/hafw/licensing"
	"github.com/hafw/hafw/upgrade"
)

// DefaultBootloader is systemd-boot as shipped by Debian's systemd-boot-efi.
const DefaultBootloader = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi"

// Options are the inputs of one build.
type Options struct {
	Profile hwprofiles.Profile
	Kernel  Kernel
	// KernelOrigin is recorded in the manifest (a path or URL).
	KernelOrigin string
	Version      string
	// SrcDir is the hafw module root whose cmd/* are built into the image.
	SrcDir string
	// OutDir receives the outputs; CacheDir keeps the u-root layer.
	OutDir, CacheDir string
	Bootloader       string // systemd-boot EFI binary
	VendorPub        []byte // licensing public key file (/etc/hafw/vendor.pub)
	// VendorKey signs the update bundle; its public half must be VendorPub
	// (a bundle the image itself could not verify is refused).
	VendorKey ed25519.PrivateKey
	// MinUpgradeFrom is the update bundle's minimum running version ("":
	// any).
	MinUpgradeFrom string
	// ConfigFile and LicenseFiles are baked into the data partition.
	ConfigFile   string
	LicenseFiles []string
	// Epoch is every timestamp in the outputs (SOURCE_DATE_EPOCH).
	Epoch time.Time
	// Cmdline is appended to the kernel command line of every boot entry
	// (labs: hafw.hang, first-boot keys).
	Cmdline string
	// KeepRawDisk also leaves the raw disk behind an OVA in OutDir as
	// <name>.img (sparse, not in the manifest).
	KeepRawDisk bool
	Log         *slog.Logger
}

// Input is one input file of the build as recorded in the manifest.
type Input struct {
	Name   string `json:"name"`
	Origin string `json:"origin,omitempty"`
	SHA256 string `json:"sha256"`
}

// Output is one produced file.
type Output struct {
	File   string `json:"file"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Manifest is the JSON record written next to every image.
type Manifest struct {
	Profile         string            `json:"profile"`
	Version         string            `json:"version"`
	Format          string            `json:"format"`
	SourceDateEpoch int64             `json:"source_date_epoch"`
	KernelRelease   string            `json:"kernel_release"`
	Modules         []string          `json:"modules"`
	Commands        []string          `json:"commands"`
	Inputs          []Input           `json:"inputs"`
	Tools           map[string]string `json:"tools"`
	InitramfsBytes  int64             `json:"initramfs_bytes"`
	Outputs         []Output          `json:"outputs"`
}

// ErrBadInput marks a build refused because of its inputs.
var ErrBadInput = errors.New("bad build input")

// Build runs one build. Everything is assembled in a private directory
// inside OutDir and moved into place only when complete, so a failed build
// leaves no partial image behind.
func Build(ctx context.Context, o Options) (*Manifest, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Bootloader == "" {
		o.Bootloader = DefaultBootloader
	}
	// u-root's builders change directory; every path must be absolute.
	for _, p := range []*string{&o.OutDir, &o.CacheDir, &o.SrcDir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, fmt.Errorf("resolving %s: %w", *p, err)
		}
		*p = abs
	}
	if err := o.Kernel.check(); err != nil {
		return nil, err
	}
	if strings.ContainsAny(o.Version, "/ \n") || o.Version == "" {
		return nil, fmt.Errorf("%w: version %q must be non-empty without spaces or slashes", ErrBadInput, o.Version)
	}
	pub, err := licensing.ParsePublicKey(o.VendorPub)
	if err != nil {
		return nil, fmt.Errorf("%w: vendor public key: %w", ErrBadInput, err)
	}
	if o.VendorKey == nil || !pub.Equal(o.VendorKey.Public()) {
		return nil, fmt.Errorf("%w: the vendor signing key is not the private half of the image's vendor public key: its update bundle would not verify", ErrBadInput)
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	work, err := os.MkdirTemp(o.OutDir, ".hafw-build-")
	if err != nil {
		return nil, fmt.Errorf("output directory %s is not writable: %w", o.OutDir, err)
	}
	defer os.RemoveAll(work)

	m := &Manifest{Profile: o.Profile.Model, Version: o.Version, Format: string(o.Profile.ImageFormat),
		SourceDateEpoch: o.Epoch.Unix(), KernelRelease: o.Kernel.Release(), Tools: toolVersions(ctx)}
	m.Tools["go"] = runtime.Version()
	dataDir := filepath.Join(work, "data")
	if err := stageData(o, dataDir, m); err != nil {
		return nil, err
	}

	// Modules: the profile's drivers and the lab set, dependencies first.
	tree, err := OpenModuleTree(o.Kernel.Modules)
	if err != nil {
		return nil, err
	}
	mods, err := tree.Resolve(append(o.Profile.Drivers(), LabModules...))
	if err != nil {
		return nil, fmt.Errorf("resolving kernel modules: %w", err)
	}
	m.Modules = mods
	modList := make([]string, len(mods))
	for i, p := range mods {
		modList[i] = "/lib/modules/" + o.Kernel.Release() + "/" + p
	}

	core, urootVer, err := coreLayer(ctx, o.Log, o.SrcDir, o.CacheDir)
	if err != nil {
		return nil, err
	}
	m.Tools["u-root"] = urootVer
	binDir := filepath.Join(work, "bin")
	o.Log.Info("building appliance commands")
	if m.Commands, err = buildAppliance(ctx, o.SrcDir, binDir); err != nil {
		return nil, err
	}
	sum, err := fileSHA256(filepath.Join(binDir, MultiCallName))
	if err != nil {
		return nil, err
	}
	origins := make([]string, len(m.Commands))
	for i, c := range m.Commands {
		origins[i] = "./cmd/" + c
	}
	m.Inputs = append(m.Inputs, Input{Name: "command " + MultiCallName, Origin: strings.Join(origins, " "), SHA256: sum})
	hostFiles, err := hostToolFiles(HostTools)
	if err != nil {
		return nil, err
	}
	for _, f := range hostFiles {
		sum, err := fileSHA256(f.Src)
		if err != nil {
			return nil, err
		}
		m.Inputs = append(m.Inputs, Input{Name: "host file /" + f.Dst, Origin: f.Src, SHA256: sum})
	}
	initrd := filepath.Join(work, "initrd.zst")
	o.Log.Info("assembling initramfs", "modules", len(mods), "commands", m.Commands)
	if err := writeInitramfs(o.Log, filepath.Join(work, "initramfs"), initramfsSpec{
		coreCPIO: core, binDir: binDir, commands: m.Commands, kernel: o.Kernel, modules: mods,
		hostFiles: hostFiles,
		etc: map[string][]byte{
			"profile":      []byte(o.Profile.Model + "\n"),
			"version":      []byte(o.Version + "\n"),
			"vendor.pub":   o.VendorPub,
			"modules.list": []byte(strings.Join(modList, "\n") + "\n"),
			"apps":         []byte(Apps),
		},
	}, initrd); err != nil {
		return nil, err
	}
	if st, err := os.Stat(initrd); err == nil {
		m.InitramfsBytes = st.Size()
	}

	base := "hafw-" + o.Profile.Model + "-" + o.Version
	bundle := filepath.Join(work, base+upgrade.Ext)
	if err := writeBundle(o, m, initrd, bundle); err != nil {
		return nil, err
	}

	espDir := filepath.Join(work, "esp")
	if err := stageESP(o, espDir, initrd); err != nil {
		return nil, err
	}
	for _, in := range [][2]string{{"kernel", o.Kernel.Image}, {"bootloader", o.Bootloader}} {
		sum, err := fileSHA256(in[1])
		if err != nil {
			return nil, err
		}
		origin := in[1]
		if in[0] == "kernel" && o.KernelOrigin != "" {
			origin = o.KernelOrigin
		}
		m.Inputs = append(m.Inputs, Input{Name: in[0], Origin: origin, SHA256: sum})
	}
	sort.Slice(m.Inputs, func(i, j int) bool { return m.Inputs[i].Name < m.Inputs[j].Name })

	seed := base + "@" + fmt.Sprint(o.Epoch.Unix())
	disk := filepath.Join(work, base+".img")
	diskSize := int64(0)
	if o.Profile.ImageFormat == hwprofiles.OVA {
		diskSize = int64(o.Profile.DiskGB) << 30
	}
	o.Log.Info("writing disk", "profile", o.Profile.Model)
	if err := writeDisk(ctx, disk, diskSize, seed, o.Epoch, espDir, dataDir); err != nil {
		return nil, err
	}

	var outputs []string
	switch o.Profile.ImageFormat {
	case hwprofiles.RawDisk:
		outputs = append(outputs, disk)
	case hwprofiles.OVA:
		ova := filepath.Join(work, base+".ova")
		if err := buildOVA(o, base, disk, ova, seed); err != nil {
			return nil, err
		}
		outputs = append(outputs, ova)
	default:
		return nil, fmt.Errorf("%w: profile %s has unknown image format %q", ErrBadInput, o.Profile.Model, o.Profile.ImageFormat)
	}
	outputs = append(outputs, bundle) // the image stays Outputs[0]
	for _, p := range outputs {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("stat output: %w", err)
		}
		sum, err := fileSHA256(p)
		if err != nil {
			return nil, err
		}
		m.Outputs = append(m.Outputs, Output{File: filepath.Base(p), Size: st.Size(), SHA256: sum})
	}
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	// Publish: images first, the manifest last, so a manifest never
	// describes an image that is not there.
	for _, p := range outputs {
		if err := os.Rename(p, filepath.Join(o.OutDir, filepath.Base(p))); err != nil {
			return nil, fmt.Errorf("publishing %s: %w", filepath.Base(p), err)
		}
	}
	if err := atomicfile.Write(filepath.Join(o.OutDir, base+".manifest.json"), append(mj, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("writing manifest: %w", err)
	}
	if o.KeepRawDisk && o.Profile.ImageFormat == hwprofiles.OVA {
		// A debugging aid, not a release artifact: kept sparse and not
		// hashed (hashing would read the whole virtual disk size).
		if err := os.Rename(disk, filepath.Join(o.OutDir, filepath.Base(disk))); err != nil {
			return nil, fmt.Errorf("keeping raw disk: %w", err)
		}
	}
	return m, nil
}

// writeBundle writes the update bundle: this build's slot payload (the
// kernel and the initramfs a boot slot holds) with a manifest signed by
// the vendor key.
func writeBundle(o Options, m *Manifest, initrd, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing update bundle: %w", err)
	}
	defer f.Close()
	_, err = upgrade.Write(f, upgrade.Manifest{
		Profile: o.Profile.Model, Version: o.Version, MinVersion: o.MinUpgradeFrom,
		ConfigSchema: upgrade.DataSchema, KernelRelease: m.KernelRelease, SourceDateEpoch: o.Epoch.Unix(),
	}, []upgrade.File{{Name: upgrade.KernelName, Path: o.Kernel.Image}, {Name: upgrade.InitrdName, Path: initrd}}, o.VendorKey, o.Epoch)
	if err != nil {
		return fmt.Errorf("writing update bundle: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing update bundle: %w", err)
	}
	return nil
}

// stageData fills the data partition's tree: the validated first-boot
// configuration and the licenses, laid out as config.Layout expects.
func stageData(o Options, dir string, m *Manifest) error {
	layout := config.Layout{Root: dir}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("staging data partition: %w", err)
	}
	if o.ConfigFile != "" {
		data, err := os.ReadFile(o.ConfigFile)
		if err != nil {
			return fmt.Errorf("%w: reading --config: %w", ErrBadInput, err)
		}
		if _, err := config.Parse(data); err != nil {
			return fmt.Errorf("%w: --config %s: %w", ErrBadInput, o.ConfigFile, err)
		}
		if err := os.MkdirAll(filepath.Dir(layout.ConfigFile()), 0o755); err != nil {
			return fmt.Errorf("staging config: %w", err)
		}
		if err := os.WriteFile(layout.ConfigFile(), data, 0o600); err != nil {
			return fmt.Errorf("staging config: %w", err)
		}
		m.Inputs = append(m.Inputs, Input{Name: "config", Origin: o.ConfigFile, SHA256: sha256Hex(data)})
	}
	for _, lf := range o.LicenseFiles {
		data, err := os.ReadFile(lf)
		if err != nil {
			return fmt.Errorf("%w: reading --license: %w", ErrBadInput, err)
		}
		l, err := licensing.Parse(data)
		if err != nil {
			return fmt.Errorf("%w: --license %s: %w", ErrBadInput, lf, err)
		}
		dst := filepath.Join(layout.LicenseDir(), l.ID+licensing.Ext)
		if err := os.MkdirAll(layout.LicenseDir(), 0o755); err != nil {
			return fmt.Errorf("staging licenses: %w", err)
		}
		if _, err := os.Stat(dst); err == nil {
			return fmt.Errorf("%w: --license %s: license %s given twice", ErrBadInput, lf, l.ID)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("staging licenses: %w", err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return fmt.Errorf("staging licenses: %w", err)
		}
		m.Inputs = append(m.Inputs, Input{Name: "license " + l.ID, Origin: lf, SHA256: sha256Hex(data)})
	}
	return nil
}
