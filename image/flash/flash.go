// Package flash writes a firmware raw image onto a disk (or a plain file)
// safely: the image is checked against its build manifest before the disk
// is touched, the write is flushed and read back and compared, and an
// interrupted or failed write is reported as such, never as success. With
// KeepData only the boot side of the disk is rewritten and the persistent
// hafw-data partition (configuration, licenses, instance data) is kept.
package flash

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/image"
)

// chunk is the write and read-back unit: large enough for full disk speed,
// small enough that an interrupt is honoured within a fraction of a second.
const chunk = 4 << 20

// Phase names reported to Progress.
const (
	PhaseCheckImage = "checking image"
	PhaseWrite      = "writing"
	PhaseVerify     = "verifying"
)

// Options are one flash run's inputs.
type Options struct {
	Image string
	// ImageSHA256 is the image's hash from its build manifest.
	ImageSHA256 string
	Target      Target
	// KeepData skips the target's hafw-data partition, which must sit at
	// the same place as in the image.
	KeepData bool
	// Progress, when set, is called after every chunk.
	Progress func(phase string, done, total int64)
}

// Result is what a successful flash wrote and verified.
type Result struct {
	Written int64  // bytes written
	SHA256  string // of the image (whole, or outside the kept partition)
	Kept    *Part  // the kept data partition, with KeepData
}

// Errors callers tell apart; every one leaves a message that says what
// state the target is in.
var (
	ErrRefused     = errors.New("refused")
	ErrInterrupted = errors.New("flash interrupted")
	ErrVerify      = errors.New("read-back verification failed")
)

// ManifestSHA256 returns the image's SHA-256 recorded in its build
// manifest (manifest "" means <image without .img>.manifest.json).
func ManifestSHA256(imagePath, manifest string) (string, error) {
	if manifest == "" {
		manifest = strings.TrimSuffix(imagePath, ".img") + ".manifest.json"
	}
	data, err := os.ReadFile(manifest)
	if err != nil {
		return "", fmt.Errorf("reading build manifest: %w", err)
	}
	var m image.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return "", fmt.Errorf("parsing build manifest %s: %w", manifest, err)
	}
	for _, o := range m.Outputs {
		if o.File == filepath.Base(imagePath) {
			if len(o.SHA256) != 64 {
				return "", fmt.Errorf("build manifest %s: bad sha256 %q for %s", manifest, o.SHA256, o.File)
			}
			return strings.ToLower(o.SHA256), nil
		}
	}
	return "", fmt.Errorf("build manifest %s does not list %s", manifest, filepath.Base(imagePath))
}

// span is a byte range [off, end).
type span struct{ off, end int64 }

// Flash writes o.Image onto o.Target. The caller has shown the target and
// checked Target.InUse; Flash re-checks what it can only know from the
// image (size, data partition placement).
func Flash(ctx context.Context, o Options) (Result, error) {
	var res Result
	img, err := os.Open(o.Image)
	if err != nil {
		return res, fmt.Errorf("opening image: %w", err)
	}
	defer img.Close()
	st, err := img.Stat()
	if err != nil {
		return res, fmt.Errorf("opening image: %w", err)
	}
	size := st.Size()
	if size == 0 || size%sector != 0 {
		return res, fmt.Errorf("%w: image %s is %d bytes, not a whole number of sectors", ErrRefused, o.Image, size)
	}
	if o.Target.Block && o.Target.Size < size {
		return res, fmt.Errorf("%w: %s holds %d bytes, the image needs %d", ErrRefused, o.Target.Path, o.Target.Size, size)
	}
	imgParts, err := ReadGPT(img)
	if err != nil {
		return res, fmt.Errorf("%w: %s is not a firmware disk image: %w", ErrRefused, o.Image, err)
	}
	var skip []span
	if o.KeepData {
		p, err := keptPartition(imgParts, o.Target)
		if err != nil {
			return res, err
		}
		res.Kept = &p
		skip = []span{{p.Offset, p.Offset + p.Size}}
	}

	// 1. The image must be the one the build produced, before anything is
	// overwritten: a corrupt download must not cost the engineer a disk.
	whole := sha256.New()
	outside := sha256.New()
	if err := hashRanges(ctx, img, size, skip, whole, outside, PhaseCheckImage, o.Progress); err != nil {
		return res, fmt.Errorf("checking image: %w", err)
	}
	if got := hex.EncodeToString(whole.Sum(nil)); got != o.ImageSHA256 {
		return res, fmt.Errorf("%w: image %s has SHA-256 %s, its build manifest says %s", ErrRefused, o.Image, got, o.ImageSHA256)
	}
	res.SHA256 = hex.EncodeToString(outside.Sum(nil))

	// 2. Write.
	flags := os.O_WRONLY
	if !o.Target.Block {
		flags |= os.O_CREATE
	}
	dev, err := os.OpenFile(o.Target.Path, flags, 0o644)
	if err != nil {
		return res, fmt.Errorf("opening %s for writing: %w", o.Target.Path, err)
	}
	n, werr := copyRanges(ctx, dev, img, size, skip, o.Progress)
	res.Written = n
	serr := dev.Sync()
	cerr := dev.Close()
	if werr != nil {
		return res, partial(o.Target.Path, n, size, werr)
	}
	if serr != nil || cerr != nil {
		return res, partial(o.Target.Path, n, size, errors.Join(serr, cerr))
	}

	// 3. Read back what the disk now holds, not the page cache.
	rb, err := os.Open(o.Target.Path)
	if err != nil {
		return res, fmt.Errorf("%w: reopening %s: %w", ErrVerify, o.Target.Path, err)
	}
	defer rb.Close()
	if err := unix.Fadvise(int(rb.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return res, fmt.Errorf("%w: dropping cached pages of %s: %w", ErrVerify, o.Target.Path, err)
	}
	back := sha256.New()
	if err := hashRanges(ctx, rb, size, skip, nil, back, PhaseVerify, o.Progress); err != nil {
		return res, fmt.Errorf("%w: reading %s back: %w", ErrVerify, o.Target.Path, err)
	}
	if got := hex.EncodeToString(back.Sum(nil)); got != res.SHA256 {
		return res, fmt.Errorf("%w: %s reads back SHA-256 %s, wrote %s: the disk is faulty or was changed during the write; it will not boot reliably",
			ErrVerify, o.Target.Path, got, res.SHA256)
	}
	return res, nil
}

// keptPartition finds the data partition to keep: in the image and on the
// target at exactly the same place, or --keep-data cannot work.
func keptPartition(imgParts []Part, t Target) (Part, error) {
	ip, ok := findPart(imgParts, config.DataPartitionLabel)
	if !ok {
		return Part{}, fmt.Errorf("%w: --keep-data: the image has no %s partition", ErrRefused, config.DataPartitionLabel)
	}
	if t.Parts == nil {
		return Part{}, fmt.Errorf("%w: --keep-data: %s has no readable partition table (%v); flash without --keep-data", ErrRefused, t.Path, t.PartsErr)
	}
	tp, ok := findPart(t.Parts, config.DataPartitionLabel)
	if !ok {
		return Part{}, fmt.Errorf("%w: --keep-data: %s has no %s partition to keep; flash without --keep-data", ErrRefused, t.Path, config.DataPartitionLabel)
	}
	if tp.Offset != ip.Offset || tp.Size != ip.Size {
		return Part{}, fmt.Errorf("%w: --keep-data: %s's %s partition (offset %d, %d bytes) is not where the image puts it (offset %d, %d bytes)",
			ErrRefused, t.Path, config.DataPartitionLabel, tp.Offset, tp.Size, ip.Offset, ip.Size)
	}
	return tp, nil
}

// partial wraps a failed write so nobody mistakes it for a good disk.
func partial(dev string, done, total int64, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w after %d of %d bytes: %s now holds a partial image and will not boot; flash it again", ErrInterrupted, done, total, dev)
	}
	return fmt.Errorf("flash failed after %d of %d bytes: %s now holds a partial image and will not boot; flash it again: %w", done, total, dev, err)
}

// inSkip reports the skipped span containing off, if any.
func inSkip(skip []span, off int64) (span, bool) {
	for _, s := range skip {
		if off >= s.off && off < s.end {
			return s, true
		}
	}
	return span{}, false
}

// nextStop is where the chunk starting at off must end: chunk size, the
// image end or the next skipped span.
func nextStop(skip []span, off, size int64) int64 {
	end := min(off+chunk, size)
	for _, s := range skip {
		if s.off > off && s.off < end {
			end = s.off
		}
	}
	return end
}

// hashRanges reads [0,size) of r: everything into whole and everything
// outside skip into outside. With whole nil (read-back) the skipped spans
// are not read at all.
func hashRanges(ctx context.Context, r io.ReaderAt, size int64, skip []span, whole, outside hash.Hash, phase string, progress func(string, int64, int64)) error {
	buf := make([]byte, chunk)
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := nextStop(skip, off, size)
		s, skipped := inSkip(skip, off)
		if skipped {
			if whole == nil {
				off = min(s.end, size)
				continue
			}
			end = min(s.end, off+chunk, size)
		}
		b := buf[:end-off]
		if _, err := r.ReadAt(b, off); err != nil {
			return fmt.Errorf("reading at %d: %w", off, err)
		}
		if whole != nil {
			whole.Write(b)
		}
		if !skipped {
			outside.Write(b)
		}
		off = end
		if progress != nil {
			progress(phase, off, size)
		}
	}
	return nil
}

// copyRanges writes [0,size) of src to dst at the same offsets, leaving the
// skipped spans of dst untouched; it returns the bytes written.
func copyRanges(ctx context.Context, dst io.WriterAt, src io.ReaderAt, size int64, skip []span, progress func(string, int64, int64)) (int64, error) {
	buf := make([]byte, chunk)
	var written int64
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return written, err
		}
		if s, ok := inSkip(skip, off); ok {
			off = min(s.end, size)
			continue
		}
		end := nextStop(skip, off, size)
		b := buf[:end-off]
		if _, err := src.ReadAt(b, off); err != nil {
			return written, fmt.Errorf("reading image at %d: %w", off, err)
		}
		n, err := dst.WriteAt(b, off)
		written += int64(n)
		if err != nil {
			return written, fmt.Errorf("writing at %d: %w", off, err)
		}
		off = end
		if progress != nil {
			progress(PhaseWrite, off, size)
		}
	}
	return written, nil
}
