package recovery

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/hafw/hafw/image"
	"github.com/hafw/hafw/image/flash"
)

// Media geometry: a 128 MiB ESP (systemd-boot, kernel, initramfs and the
// installer overlay) and an ext4 partition sized for the firmware image.
const (
	mediaESPOffset = 1 << 20
	mediaESPSize   = 128 << 20
)

// MediaOptions are the inputs of BuildMedia.
type MediaOptions struct {
	// Firmware is a raw image from image.Build; its manifest lies next to it.
	Firmware string
	// SrcDir is the hafw module root (cmd/installer is built from it).
	SrcDir string
	// Out is the media image to write.
	Out string
}

// BuildMedia writes the recovery media for a firmware image. The media
// boots the firmware's own kernel and initramfs through systemd-boot, with
// a second initrd (a cpio holding /bin/installer) appended — the kernel
// unpacks both into one root — and rdinit=/bin/installer, so the installer
// runs instead of the init agent with the same drivers. The firmware image
// and its manifest sit on an ext4 partition labelled hafw-install.
// Built without root or loop devices, like image.Build.
func BuildMedia(ctx context.Context, o MediaOptions) error {
	if _, err := flash.ManifestSHA256(o.Firmware, ""); err != nil {
		return err
	}
	fw, err := os.Open(o.Firmware)
	if err != nil {
		return fmt.Errorf("opening firmware: %w", err)
	}
	parts, err := flash.ReadGPT(fw)
	st, serr := fw.Stat()
	fw.Close()
	if err != nil || serr != nil {
		return fmt.Errorf("firmware %s: %w", o.Firmware, errors.Join(err, serr))
	}
	var esp flash.Part
	for _, p := range parts {
		if p.Name == "hafw-esp" {
			esp = p
		}
	}
	if esp.Size == 0 {
		return fmt.Errorf("firmware %s has no hafw-esp partition", o.Firmware)
	}
	work, err := os.MkdirTemp(filepath.Dir(o.Out), ".hafw-media-")
	if err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	defer os.RemoveAll(work)

	espDir := filepath.Join(work, "esp")
	fwESP := fmt.Sprintf("%s@@%d", o.Firmware, esp.Offset)
	for _, f := range []string{"EFI/BOOT/BOOTX64.EFI", "hafw/a/vmlinuz", "hafw/a/initrd.zst"} {
		dst := filepath.Join(espDir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := run(ctx, "mcopy", "-i", fwESP, "::/"+f, dst); err != nil {
			return fmt.Errorf("taking %s from the firmware: %w", f, err)
		}
	}
	installer := filepath.Join(work, "installer")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", installer, "./cmd/installer")
	build.Dir = o.SrcDir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the installer: %w: %s", err, out)
	}
	if err := writeOverlay(installer, filepath.Join(espDir, "hafw", "installer.cpio.gz")); err != nil {
		return err
	}
	files := map[string]string{
		"loader/loader.conf":                 "default hafw-installer.conf\ntimeout 0\neditor no\nauto-entries no\nauto-firmware no\n",
		"loader/entries/hafw-installer.conf": "title hafw recovery media installer\nlinux /hafw/a/vmlinuz\ninitrd /hafw/a/initrd.zst\ninitrd /hafw/installer.cpio.gz\noptions " + image.BaseCmdline + " rdinit=/bin/installer\n",
	}
	for name, data := range files {
		p := filepath.Join(espDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			return err
		}
	}
	payload := filepath.Join(work, "payload")
	if err := os.MkdirAll(payload, 0o755); err != nil {
		return err
	}
	manifest := strings.TrimSuffix(o.Firmware, ".img") + ".manifest.json"
	for _, f := range []string{o.Firmware, manifest} {
		if err := run(ctx, "cp", "--sparse=always", f, payload+"/"); err != nil {
			return err
		}
	}

	dataOff := int64(mediaESPOffset + mediaESPSize)
	dataSize := (st.Size() + st.Size()/8 + 64<<20) / (1 << 20) * (1 << 20)
	size := dataOff + dataSize + 1<<20
	g := image.GPT{DiskID: image.DeriveGUID(o.Firmware + "/media"), DiskSize: size, Partitions: []image.Partition{
		{Type: image.TypeESP, ID: image.DeriveGUID(o.Firmware + "/media-esp"), Name: "hafw-media-esp",
			FirstLBA: mediaESPOffset / image.Sector, LastLBA: (mediaESPOffset+mediaESPSize)/image.Sector - 1},
		{Type: image.TypeLinuxData, ID: image.DeriveGUID(o.Firmware + "/media-install"), Name: MediaLabel,
			FirstLBA: uint64(dataOff / image.Sector), LastLBA: uint64((dataOff+dataSize)/image.Sector - 1)},
	}}
	primary, backup, err := g.Encode()
	if err != nil {
		return err
	}
	tmp := filepath.Join(work, "media.img")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err1 := f.WriteAt(primary, 0)
	_, err2 := f.WriteAt(backup, size-int64(len(backup)))
	err3 := f.Truncate(size)
	if err := errors.Join(err1, err2, err3, f.Close()); err != nil {
		return fmt.Errorf("writing media GPT: %w", err)
	}
	img := fmt.Sprintf("%s@@%d", tmp, mediaESPOffset)
	if err := run(ctx, "mformat", "-i", img, "-F", "-T", strconv.Itoa(mediaESPSize/image.Sector), "-h", "64", "-s", "32",
		"-H", strconv.Itoa(mediaESPOffset/image.Sector), "-v", "HAFW-MEDIA", "::"); err != nil {
		return err
	}
	if err := run(ctx, "mcopy", "-s", "-i", img, filepath.Join(espDir, "EFI"), filepath.Join(espDir, "loader"), filepath.Join(espDir, "hafw"), "::/"); err != nil {
		return err
	}
	if err := run(ctx, "mkfs.ext4", "-q", "-F", "-L", MediaLabel, "-E", fmt.Sprintf("offset=%d", dataOff),
		"-d", payload, tmp, fmt.Sprintf("%dk", dataSize/1024)); err != nil {
		return err
	}
	if err := os.Rename(tmp, o.Out); err != nil {
		return fmt.Errorf("publishing media: %w", err)
	}
	return nil
}

// writeOverlay writes a gzip-compressed newc cpio holding /bin/installer.
// Compressed because the kernel finds an uncompressed cpio only at a
// 4-byte aligned offset, and the firmware's initrd before it in the
// concatenation has any length.
func writeOverlay(installer, out string) error {
	data, err := os.ReadFile(installer)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w := cpio.Newc.Writer(&buf)
	recs := []cpio.Record{
		cpio.Directory("bin", 0o755),
		cpio.StaticRecord(data, cpio.Info{Name: "bin/installer", Mode: cpio.S_IFREG | 0o755}),
	}
	cpio.MakeAllReproducible(recs)
	if err := cpio.WriteRecords(w, recs); err != nil {
		return fmt.Errorf("writing installer overlay: %w", err)
	}
	if err := cpio.WriteTrailer(w); err != nil {
		return fmt.Errorf("writing installer overlay: %w", err)
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("compressing installer overlay: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compressing installer overlay: %w", err)
	}
	return os.WriteFile(out, gz.Bytes(), 0o644)
}

func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
