package image

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hafw/hafw/config"
)

// Disk geometry shared by raw images and VMDKs. Partitions are 1 MiB
// aligned. The ESP holds two boot slots of kernel + initramfs (about 40 MB
// each) with room to spare; the data partition holds configuration,
// licenses and instance data and is created at a fixed size so the image
// stays small to flash and to convert (the rest of a larger disk stays
// unpartitioned for later growth).
const (
	MiB          = 1 << 20
	espOffset    = 1 * MiB
	ESPSize      = 256 * MiB
	DataSize     = 1024 * MiB
	dataOffset   = espOffset + ESPSize
	minDiskBytes = dataOffset + DataSize + 1*MiB // + backup GPT
)

// diskLayout plans the GPT for a disk of diskSize bytes.
func diskLayout(seed string, diskSize int64) GPT {
	return GPT{
		DiskID:   DeriveGUID(seed + "/disk"),
		DiskSize: diskSize,
		Partitions: []Partition{
			{Type: TypeESP, ID: DeriveGUID(seed + "/esp"), Name: "hafw-esp",
				FirstLBA: espOffset / Sector, LastLBA: (espOffset+ESPSize)/Sector - 1},
			{Type: TypeLinuxData, ID: DeriveGUID(seed + "/data"), Name: "hafw-data",
				FirstLBA: dataOffset / Sector, LastLBA: (dataOffset+DataSize)/Sector - 1},
		},
	}
}

// toolEnv pins every timestamp the disk tools write to the build epoch.
func toolEnv(epoch time.Time) []string {
	e := strconv.FormatInt(epoch.Unix(), 10)
	return append(os.Environ(), "SOURCE_DATE_EPOCH="+e, "E2FSPROGS_FAKE_TIME="+e, "TZ=UTC", "MTOOLS_SKIP_CHECK=1")
}

// run runs a tool and folds its output into the error.
func run(ctx context.Context, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// pinTimes sets the modification time of everything under dir to epoch;
// mcopy -m and mkfs.ext4 -d copy file times into the file systems.
func pinTimes(dir string, epoch time.Time) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, epoch, epoch)
	})
}

// writeDisk creates path as a sparse disk of diskSize bytes: GPT, a FAT32
// ESP filled from espDir (mtools) and an ext4 data partition filled from
// dataDir (mkfs.ext4 -d). Both file systems are written in place at their
// partition offsets, so no root, loop device or copy is needed. Identifiers
// derive from seed; timestamps are epoch.
func writeDisk(ctx context.Context, path string, diskSize int64, seed string, epoch time.Time, espDir, dataDir string) error {
	if diskSize < minDiskBytes {
		diskSize = minDiskBytes
	}
	g := diskLayout(seed, diskSize)
	primary, backup, err := g.Encode()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("creating disk image: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(diskSize); err != nil {
		return fmt.Errorf("sizing disk image: %w", err)
	}
	if _, err := f.WriteAt(primary, 0); err != nil {
		return fmt.Errorf("writing GPT: %w", err)
	}
	if _, err := f.WriteAt(backup, diskSize-int64(len(backup))); err != nil {
		return fmt.Errorf("writing backup GPT: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing disk image: %w", err)
	}
	for _, d := range []string{espDir, dataDir} {
		if err := pinTimes(d, epoch); err != nil {
			return fmt.Errorf("pinning file times: %w", err)
		}
	}
	env := toolEnv(epoch)
	esp, data := g.Partitions[0], g.Partitions[1]
	espImg := fmt.Sprintf("%s@@%d", path, esp.Offset())
	serial := fmt.Sprintf("%08x", uint32(esp.ID[0])<<24|uint32(esp.ID[1])<<16|uint32(esp.ID[2])<<8|uint32(esp.ID[3]))
	if err := run(ctx, env, "mformat", "-i", espImg, "-F", "-T", strconv.FormatInt(esp.Size()/Sector, 10),
		"-h", "64", "-s", "32", "-H", strconv.FormatUint(esp.FirstLBA, 10), "-N", serial, "-v", "HAFW-ESP", "::"); err != nil {
		return fmt.Errorf("formatting ESP: %w", err)
	}
	if err := fillFAT(ctx, env, espImg, espDir); err != nil {
		return fmt.Errorf("filling ESP: %w", err)
	}
	fsUUID := DeriveGUID(seed + "/data-fs").String()
	hashSeed := DeriveGUID(seed + "/data-hash").String()
	if err := run(ctx, env, "mkfs.ext4", "-q", "-F", "-L", config.DataPartitionLabel, "-U", fsUUID,
		"-E", fmt.Sprintf("offset=%d,root_owner=0:0,hash_seed=%s", data.Offset(), hashSeed),
		"-d", dataDir, path, fmt.Sprintf("%dk", data.Size()/1024)); err != nil {
		return fmt.Errorf("creating data partition: %w", err)
	}
	if err := pinExt4Times(ctx, env, fmt.Sprintf("%s?offset=%d", path, data.Offset()), dataDir, epoch); err != nil {
		return fmt.Errorf("creating data partition: %w", err)
	}
	return nil
}

// pinExt4Times sets every copied inode's times to epoch with debugfs.
// mkfs.ext4 -d copies each source file's ctime, which no program can set
// (the kernel stamps it on every change), and reading a directory bumps its
// atime; both would make two builds differ.
func pinExt4Times(ctx context.Context, env []string, fsImage, dir string, epoch time.Time) error {
	var cmds strings.Builder
	at := "@" + strconv.FormatInt(epoch.Unix(), 10)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if strings.ContainsAny(rel, " \t\n\"") {
			return fmt.Errorf("cannot pin times of %q: debugfs needs paths without spaces or quotes", rel)
		}
		for _, field := range []string{"ctime", "atime", "mtime"} {
			fmt.Fprintf(&cmds, "sif /%s %s %s\n", filepath.ToSlash(rel), field, at)
		}
		return nil
	})
	if err != nil || cmds.Len() == 0 {
		return err
	}
	script := filepath.Join(filepath.Dir(dir), "debugfs-times.cmd")
	if err := os.WriteFile(script, []byte(cmds.String()), 0o644); err != nil {
		return fmt.Errorf("writing debugfs script: %w", err)
	}
	return run(ctx, env, "debugfs", "-w", "-f", script, fsImage)
}

// fillFAT copies the tree under dir into the FAT image img, directories
// and files in lexical order (never the host's readdir order, which would
// make the FAT layout depend on the build machine).
func fillFAT(ctx context.Context, env []string, img, dir string) error {
	var dirs []string
	files := map[string][]string{} // FAT directory → host files
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, "::/"+filepath.ToSlash(rel))
			return nil
		}
		parent := "::/" + filepath.ToSlash(filepath.Dir(rel))
		files[parent] = append(files[parent], p)
		return nil
	})
	if err != nil {
		return err
	}
	if len(dirs) > 0 {
		if err := run(ctx, env, "mmd", append([]string{"-i", img}, dirs...)...); err != nil {
			return err
		}
	}
	targets := make([]string, 0, len(files))
	for t := range files {
		targets = append(targets, t)
	}
	sort.Strings(targets)
	for _, t := range targets {
		args := append([]string{"-m", "-i", img}, files[t]...)
		if err := run(ctx, env, "mcopy", append(args, strings.TrimSuffix(t, "/.")+"/")...); err != nil {
			return err
		}
	}
	return nil
}

// toolVersions reports the versions of the disk tools for the manifest:
// their output is part of the image, so a different version may change it.
func toolVersions(ctx context.Context) map[string]string {
	out := map[string]string{}
	for name, args := range map[string][]string{"mtools": {"mformat", "--version"}, "e2fsprogs": {"mkfs.ext4", "-V"}} {
		b, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
		line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		if err != nil {
			line = "unknown (" + err.Error() + ")"
		}
		out[name] = line
	}
	return out
}
