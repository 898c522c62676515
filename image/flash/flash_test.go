package flash

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hafw/hafw/image/flash/flashtest"
	"github.com/hafw/hafw/internal/testenv"
)

// Short names for the test image geometry.
const (
	fixESP  = flashtest.ESP
	fixData = flashtest.Data
	fixSize = flashtest.Size
)

func writeFixture(t *testing.T, dir string, espByte, dataByte byte, dataFirstLBA uint64) string {
	t.Helper()
	return flashtest.Write(t, dir, "hafw-3355-1.0.img", espByte, dataByte, dataFirstLBA)
}

func flashFile(t *testing.T, ctx context.Context, img, dev string, keep bool, progress func(string, int64, int64)) (Result, error) {
	t.Helper()
	sum, err := ManifestSHA256(img, "")
	if err != nil {
		t.Fatal(err)
	}
	tg, err := DefaultHost.Inspect(dev)
	if err != nil {
		t.Fatal(err)
	}
	return Flash(ctx, Options{Image: img, ImageSHA256: sum, Target: tg, KeepData: keep, Progress: progress})
}

func TestFlashWholeImageToFile(t *testing.T) {
	dir := t.TempDir()
	img := writeFixture(t, dir, 0xE5, 0xDA, fixData/sector)
	dev := filepath.Join(dir, "disk")
	phases := map[string]int64{}
	res, err := flashFile(t, context.Background(), img, dev, false, func(p string, done, total int64) {
		if total != fixSize || done > total {
			t.Errorf("progress %s %d/%d", p, done, total)
		}
		phases[p] = done
	})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(img)
	got, _ := os.ReadFile(dev)
	if !bytes.Equal(got, want) {
		t.Fatal("target differs from the image")
	}
	if res.Written != fixSize || res.Kept != nil {
		t.Fatalf("result %+v", res)
	}
	for _, p := range []string{PhaseCheckImage, PhaseWrite, PhaseVerify} {
		if phases[p] != fixSize {
			t.Errorf("phase %q ended at %d, want %d", p, phases[p], fixSize)
		}
	}
}

func TestFlashKeepDataKeepsThePartition(t *testing.T) {
	dir := t.TempDir()
	old := writeFixture(t, t.TempDir(), 0x01, 0x5A, fixData/sector) // installed firmware + precious data
	dev := filepath.Join(dir, "disk")
	oldBytes, _ := os.ReadFile(old)
	if err := os.WriteFile(dev, oldBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	img := writeFixture(t, dir, 0xE5, 0xDA, fixData/sector)
	res, err := flashFile(t, context.Background(), img, dev, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Kept == nil || res.Kept.Name != "hafw-data" || res.Written != fixSize-(2<<20) {
		t.Fatalf("result %+v", res)
	}
	got, _ := os.ReadFile(dev)
	want, _ := os.ReadFile(img)
	if !bytes.Equal(got[:fixData], want[:fixData]) || !bytes.Equal(got[fixData+(2<<20):], want[fixData+(2<<20):]) {
		t.Error("boot side not rewritten")
	}
	if !bytes.Equal(got[fixData:fixData+(2<<20)], oldBytes[fixData:fixData+(2<<20)]) {
		t.Error("data partition not kept")
	}
}

func TestRefusalsChangeNothing(t *testing.T) {
	dir := t.TempDir()
	img := writeFixture(t, dir, 0xE5, 0xDA, fixData/sector)
	cases := []struct {
		name   string
		target []byte // nil: no file
		keep   bool
		mutate func(t *testing.T) // breaks the input
		want   string
	}{
		{name: "no GPT on target for keep-data", target: make([]byte, fixSize), keep: true, want: "no readable partition table"},
		{name: "data partition elsewhere", keep: true, want: "is not where the image puts it", target: func() []byte {
			b, _ := os.ReadFile(writeFixture(t, t.TempDir(), 1, 2, fixData/sector+1024))
			return b
		}()},
		{name: "image does not match manifest", target: bytes.Repeat([]byte{7}, fixSize), want: "its build manifest says", mutate: func(t *testing.T) {
			f, err := os.OpenFile(img, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte{0xFF}, fixESP+10)
			f.Close()
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dev := filepath.Join(t.TempDir(), "disk")
			if err := os.WriteFile(dev, c.target, 0o644); err != nil {
				t.Fatal(err)
			}
			sum, err := ManifestSHA256(img, "")
			if err != nil {
				t.Fatal(err)
			}
			if c.mutate != nil {
				c.mutate(t)
			}
			tg, err := DefaultHost.Inspect(dev)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Flash(context.Background(), Options{Image: img, ImageSHA256: sum, Target: tg, KeepData: c.keep})
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrRefused containing %q", err, c.want)
			}
			if got, _ := os.ReadFile(dev); !bytes.Equal(got, c.target) {
				t.Fatal("target changed by a refused flash")
			}
		})
	}
}

func TestInterruptedFlashIsReportedAsSuch(t *testing.T) {
	dir := t.TempDir()
	img := writeFixture(t, dir, 0xE5, 0xDA, fixData/sector)
	dev := filepath.Join(dir, "disk")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := flashFile(t, ctx, img, dev, false, func(p string, done, total int64) {
		if p == PhaseWrite && done >= chunk {
			cancel() // the engineer presses ^C after the first chunk
		}
	})
	if !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "partial image") {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
	if res.Written != chunk {
		t.Fatalf("wrote %d, want %d", res.Written, chunk)
	}
}

func TestManifestLookupErrors(t *testing.T) {
	dir := t.TempDir()
	img := writeFixture(t, dir, 1, 2, fixData/sector)
	if _, err := ManifestSHA256(filepath.Join(dir, "other.img"), filepath.Join(dir, "hafw-3355-1.0.manifest.json")); err == nil || !strings.Contains(err.Error(), "does not list other.img") {
		t.Fatalf("err = %v", err)
	}
	if _, err := ManifestSHA256(img, filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("missing manifest accepted")
	}
}

// TestWriteFailureIsNotSuccess fills a small tmpfs so the write fails with
// ENOSPC half way: a real I/O error, reported as a failed flash.
func TestWriteFailureIsNotSuccess(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	img := writeFixture(t, dir, 0xE5, 0xDA, fixData/sector)
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "hafw-flash-test", mnt).CombinedOutput(); err != nil {
		testenv.Unavailable(t, "cannot mount a tmpfs: "+strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	_, err := flashFile(t, context.Background(), img, filepath.Join(mnt, "disk"), false, nil)
	if err == nil || !strings.Contains(err.Error(), "flash failed after") || !strings.Contains(err.Error(), "no space") {
		t.Fatalf("err = %v, want a failed flash (no space)", err)
	}
}

// losetup attaches file to a free loop device and detaches it on cleanup.
func losetup(t *testing.T, file string) string {
	t.Helper()
	out, err := exec.Command("losetup", "-f", "--show", file).CombinedOutput()
	if err != nil {
		testenv.Unavailable(t, "losetup cannot attach a loop device here: "+strings.TrimSpace(string(out)))
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	return dev
}

// TestFlashLoopDevice flashes a real block device and checks the safety
// refusals against the live system: a mounted disk, and a file attached to
// a loop device.
func TestFlashLoopDevice(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "losetup", "mkfs.ext4", "mount")
	dir := t.TempDir()
	img := writeFixture(t, dir, 0xE5, 0xDA, fixData/sector)
	backing := filepath.Join(dir, "backing")
	if err := os.WriteFile(backing, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	loop := losetup(t, backing)

	tg, err := DefaultHost.Inspect(backing)
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := DefaultHost.Mounts()
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.InUse(mounts); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "attached to "+loop) {
		t.Fatalf("backing file: InUse = %v", err)
	}

	tg, err = DefaultHost.Inspect(loop)
	if err != nil {
		t.Fatal(err)
	}
	if !tg.Block || tg.Size != 8<<20 {
		t.Fatalf("inspect %s: %+v", loop, tg)
	}
	if err := tg.InUse(mounts); err != nil {
		t.Fatalf("idle loop device in use: %v", err)
	}
	sum, _ := ManifestSHA256(img, "")
	if _, err := Flash(context.Background(), Options{Image: img, ImageSHA256: sum, Target: tg}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(backing)
	want, _ := os.ReadFile(img)
	if !bytes.Equal(got[:fixSize], want) {
		t.Fatal("loop device does not hold the image")
	}
	tg, _ = DefaultHost.Inspect(loop)
	if p, ok := findPart(tg.Parts, "hafw-data"); !ok || p.Offset != fixData {
		t.Fatalf("partitions after flash: %+v (%v)", tg.Parts, tg.PartsErr)
	}

	// A mounted disk is refused.
	fsFile := filepath.Join(dir, "fs")
	if out, err := exec.Command("mkfs.ext4", "-q", fsFile, "4M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	fsLoop := losetup(t, fsFile)
	mnt := t.TempDir()
	if out, err := exec.Command("mount", fsLoop, mnt).CombinedOutput(); err != nil {
		testenv.Unavailable(t, "cannot mount a loop device: "+strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	tg, err = DefaultHost.Inspect(fsLoop)
	if err != nil {
		t.Fatal(err)
	}
	mounts, _ = DefaultHost.Mounts()
	if err := tg.InUse(mounts); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "mounted on "+mnt) {
		t.Fatalf("mounted loop device: InUse = %v", err)
	}
}
