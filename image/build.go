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

// Build runs one build: the inputs are checked first, then every step
// below runs in order, each a function of the inputs and what the earlier
// steps left in the work directory. Everything is assembled in a private
// directory inside OutDir and moved into place only when complete, so a
// failed build leaves no partial image behind.
func Build(ctx context.Context, o Options) (*Manifest, error) {
	o, err := checkOptions(o)
	if err != nil {
		return nil, err
	}
	b, err := newBuildJob(ctx, o)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(b.work)
	for _, step := range []func(context.Context) error{
		b.stageData,
		b.resolveModules,
		b.compileCommands,
		b.collectHostTools,
		b.assembleInitramfs,
		b.writeBundle,
		b.stageBoot,
		b.writeDisk,
		b.packageImage,
		b.hashOutputs,
		b.publish,
	} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	return b.m, nil
}

// checkOptions fills in the defaults and refuses the inputs it can judge
// without reading a file tree (kernel, version, vendor keys) before the
// work directory exists: such a mistake costs no build time and leaves
// OutDir as it was.
func checkOptions(o Options) (Options, error) {
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
			return o, fmt.Errorf("resolving %s: %w", *p, err)
		}
		*p = abs
	}
	if err := o.Kernel.check(); err != nil {
		return o, err
	}
	if strings.ContainsAny(o.Version, "/ \n") || o.Version == "" {
		return o, fmt.Errorf("%w: version %q must be non-empty without spaces or slashes", ErrBadInput, o.Version)
	}
	pub, err := licensing.ParsePublicKey(o.VendorPub)
	if err != nil {
		return o, fmt.Errorf("%w: vendor public key: %w", ErrBadInput, err)
	}
	if o.VendorKey == nil || !pub.Equal(o.VendorKey.Public()) {
		return o, fmt.Errorf("%w: the vendor signing key is not the private half of the image's vendor public key: its update bundle would not verify", ErrBadInput)
	}
	return o, nil
}

// buildJob is one build in progress: its inputs, its private work
// directory and the manifest the steps fill in.
type buildJob struct {
	o    Options
	work string
	// base names every output: hafw-<model>-<version>.
	base string
	m    *Manifest

	// Where the steps put what they make, all inside work.
	dataDir, binDir, initrd, bundle, espDir, disk string

	modList   []string   // the modules' paths on the appliance, load order
	core      string     // u-root's core commands, a cached cpio
	hostFiles []hostFile // the host's tools in the initramfs
	outputs   []string   // what publish moves into OutDir, the image first
}

// newBuildJob creates the private work directory inside OutDir (on the
// same file system, so publishing is a rename) and the manifest's
// constant part.
func newBuildJob(ctx context.Context, o Options) (*buildJob, error) {
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	work, err := os.MkdirTemp(o.OutDir, ".hafw-build-")
	if err != nil {
		return nil, fmt.Errorf("output directory %s is not writable: %w", o.OutDir, err)
	}
	m := &Manifest{Profile: o.Profile.Model, Version: o.Version, Format: string(o.Profile.ImageFormat),
		SourceDateEpoch: o.Epoch.Unix(), KernelRelease: o.Kernel.Release(), Tools: toolVersions(ctx)}
	m.Tools["go"] = runtime.Version()
	base := "hafw-" + o.Profile.Model + "-" + o.Version
	return &buildJob{o: o, work: work, base: base, m: m,
		dataDir: filepath.Join(work, "data"),
		binDir:  filepath.Join(work, "bin"),
		initrd:  filepath.Join(work, "initrd.zst"),
		bundle:  filepath.Join(work, base+upgrade.Ext),
		espDir:  filepath.Join(work, "esp"),
		disk:    filepath.Join(work, base+".img"),
	}, nil
}

// seed derives the disk's identifiers (GPT GUIDs, the VMDK's CID): a
// function of the build's name and epoch, so two builds compare byte for
// byte.
func (b *buildJob) seed() string { return b.base + "@" + fmt.Sprint(b.o.Epoch.Unix()) }

// resolveModules picks the kernel modules the initramfs carries: the
// profile's drivers and the lab set, dependencies first, because the init
// agent loads them in the listed order without modprobe.
func (b *buildJob) resolveModules(context.Context) error {
	tree, err := OpenModuleTree(b.o.Kernel.Modules)
	if err != nil {
		return err
	}
	mods, err := tree.Resolve(append(b.o.Profile.Drivers(), LabModules...))
	if err != nil {
		return fmt.Errorf("resolving kernel modules: %w", err)
	}
	b.m.Modules = mods
	b.modList = make([]string, len(mods))
	for i, p := range mods {
		b.modList[i] = "/lib/modules/" + b.o.Kernel.Release() + "/" + p
	}
	return nil
}

// compileCommands builds u-root's core commands (cached) and the
// appliance's own commands, and records the multi-call binary as an
// input: the manifest says which sources the image runs.
func (b *buildJob) compileCommands(ctx context.Context) error {
	core, urootVer, err := coreLayer(ctx, b.o.Log, b.o.SrcDir, b.o.CacheDir)
	if err != nil {
		return err
	}
	b.core = core
	b.m.Tools["u-root"] = urootVer
	b.o.Log.Info("building appliance commands")
	if b.m.Commands, err = buildAppliance(ctx, b.o.SrcDir, b.binDir); err != nil {
		return err
	}
	sum, err := fileSHA256(filepath.Join(b.binDir, MultiCallName))
	if err != nil {
		return err
	}
	origins := make([]string, len(b.m.Commands))
	for i, c := range b.m.Commands {
		origins[i] = "./cmd/" + c
	}
	b.m.Inputs = append(b.m.Inputs, Input{Name: "command " + MultiCallName, Origin: strings.Join(origins, " "), SHA256: sum})
	return nil
}

// collectHostTools finds the build host's tools the appliance needs (and
// their libraries) and records each as an input: they come from the host,
// not from the sources, so only the manifest tells which ones an image
// holds.
func (b *buildJob) collectHostTools(context.Context) error {
	hostFiles, err := hostToolFiles(HostTools)
	if err != nil {
		return err
	}
	for _, f := range hostFiles {
		sum, err := fileSHA256(f.Src)
		if err != nil {
			return err
		}
		b.m.Inputs = append(b.m.Inputs, Input{Name: "host file /" + f.Dst, Origin: f.Src, SHA256: sum})
	}
	b.hostFiles = hostFiles
	return nil
}

// assembleInitramfs writes the initramfs, the whole running system: the
// commands, the modules, the host tools and /etc/hafw's build-time facts
// (profile, version, vendor key, module load order, applications).
func (b *buildJob) assembleInitramfs(context.Context) error {
	o := b.o
	o.Log.Info("assembling initramfs", "modules", len(b.m.Modules), "commands", b.m.Commands)
	if err := writeInitramfs(o.Log, filepath.Join(b.work, "initramfs"), initramfsSpec{
		coreCPIO: b.core, binDir: b.binDir, commands: b.m.Commands, kernel: o.Kernel, modules: b.m.Modules,
		hostFiles: b.hostFiles,
		etc: map[string][]byte{
			"profile":      []byte(o.Profile.Model + "\n"),
			"version":      []byte(o.Version + "\n"),
			"vendor.pub":   o.VendorPub,
			"modules.list": []byte(strings.Join(b.modList, "\n") + "\n"),
			"apps":         []byte(Apps),
		},
	}, b.initrd); err != nil {
		return err
	}
	if st, err := os.Stat(b.initrd); err == nil {
		b.m.InitramfsBytes = st.Size()
	}
	return nil
}

// stageBoot lays out the boot partition (slot A holding this build) and
// records the kernel and the bootloader as inputs, which completes the
// inputs: they are sorted so the manifest does not depend on step order.
func (b *buildJob) stageBoot(context.Context) error {
	if err := stageESP(b.o, b.espDir, b.initrd); err != nil {
		return err
	}
	for _, in := range [][2]string{{"kernel", b.o.Kernel.Image}, {"bootloader", b.o.Bootloader}} {
		sum, err := fileSHA256(in[1])
		if err != nil {
			return err
		}
		origin := in[1]
		if in[0] == "kernel" && b.o.KernelOrigin != "" {
			origin = b.o.KernelOrigin
		}
		b.m.Inputs = append(b.m.Inputs, Input{Name: in[0], Origin: origin, SHA256: sum})
	}
	sort.Slice(b.m.Inputs, func(i, j int) bool { return b.m.Inputs[i].Name < b.m.Inputs[j].Name })
	return nil
}

// writeDisk writes the raw GPT disk from the staged boot and data
// partitions: at the profile's disk size for a virtual appliance (the
// OVA's virtual disk is the capacity the hypervisor provisions), at the
// smallest size that holds the partitions for a physical one.
func (b *buildJob) writeDisk(ctx context.Context) error {
	diskSize := int64(0)
	if b.o.Profile.ImageFormat == hwprofiles.OVA {
		diskSize = int64(b.o.Profile.DiskGB) << 30
	}
	b.o.Log.Info("writing disk", "profile", b.o.Profile.Model)
	return writeDisk(ctx, b.disk, diskSize, b.seed(), b.o.Epoch, b.espDir, b.dataDir)
}

// packageImage turns the raw disk into the profile's image format (the
// raw disk itself, or an OVA) and lists the outputs, the image first and
// the update bundle after it.
func (b *buildJob) packageImage(context.Context) error {
	switch b.o.Profile.ImageFormat {
	case hwprofiles.RawDisk:
		b.outputs = append(b.outputs, b.disk)
	case hwprofiles.OVA:
		ova := filepath.Join(b.work, b.base+".ova")
		if err := buildOVA(b.o, b.base, b.disk, ova, b.seed()); err != nil {
			return err
		}
		b.outputs = append(b.outputs, ova)
	default:
		return fmt.Errorf("%w: profile %s has unknown image format %q", ErrBadInput, b.o.Profile.Model, b.o.Profile.ImageFormat)
	}
	b.outputs = append(b.outputs, b.bundle) // the image stays Outputs[0]
	return nil
}

// hashOutputs records each output's size and SHA-256 in the manifest:
// what a downloader checks and what two builds are compared by.
func (b *buildJob) hashOutputs(context.Context) error {
	for _, p := range b.outputs {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("stat output: %w", err)
		}
		sum, err := fileSHA256(p)
		if err != nil {
			return err
		}
		b.m.Outputs = append(b.m.Outputs, Output{File: filepath.Base(p), Size: st.Size(), SHA256: sum})
	}
	return nil
}

// publish moves the outputs into OutDir: images first, the manifest last,
// so a manifest never describes an image that is not there.
func (b *buildJob) publish(context.Context) error {
	mj, err := json.MarshalIndent(b.m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding manifest: %w", err)
	}
	for _, p := range b.outputs {
		if err := os.Rename(p, filepath.Join(b.o.OutDir, filepath.Base(p))); err != nil {
			return fmt.Errorf("publishing %s: %w", filepath.Base(p), err)
		}
	}
	if err := atomicfile.Write(filepath.Join(b.o.OutDir, b.base+".manifest.json"), append(mj, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing manifest: %w", err)
	}
	if b.o.KeepRawDisk && b.o.Profile.ImageFormat == hwprofiles.OVA {
		// A debugging aid, not a release artifact: kept sparse and not
		// hashed (hashing would read the whole virtual disk size).
		if err := os.Rename(b.disk, filepath.Join(b.o.OutDir, filepath.Base(b.disk))); err != nil {
			return fmt.Errorf("keeping raw disk: %w", err)
		}
	}
	return nil
}

// writeBundle writes the update bundle: this build's slot payload (the
// kernel and the initramfs a boot slot holds) with a manifest signed by
// the vendor key, so an appliance already in the field can take this
// build as an upgrade.
func (b *buildJob) writeBundle(context.Context) error {
	o := b.o
	f, err := os.Create(b.bundle)
	if err != nil {
		return fmt.Errorf("writing update bundle: %w", err)
	}
	defer f.Close()
	_, err = upgrade.Write(f, upgrade.Manifest{
		Profile: o.Profile.Model, Version: o.Version, MinVersion: o.MinUpgradeFrom,
		ConfigSchema: upgrade.DataSchema, KernelRelease: b.m.KernelRelease, SourceDateEpoch: o.Epoch.Unix(),
	}, []upgrade.File{{Name: upgrade.KernelName, Path: o.Kernel.Image}, {Name: upgrade.InitrdName, Path: b.initrd}}, o.VendorKey, o.Epoch)
	if err != nil {
		return fmt.Errorf("writing update bundle: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing update bundle: %w", err)
	}
	return nil
}

// stageData fills the data partition's tree: the validated first-boot
// configuration and the licenses, laid out as config.Layout expects. It
// runs first because a bad --config or --license is an input mistake:
// refused before any compiling.
func (b *buildJob) stageData(context.Context) error {
	o, dir, m := b.o, b.dataDir, b.m
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
