package image

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hafw/hafw/internal/testenv"
)

// TestStreamOptimizedSmall converts a small disk with data, zero grains
// and an unaligned tail, and has qemu-img check and compare the result.
func TestStreamOptimizedSmall(t *testing.T) {
	testenv.RequireCommand(t, "qemu-img")
	dir := t.TempDir()
	size := int64(5<<20 + 3*Sector) // not a multiple of the grain
	disk := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 2))
	for _, off := range []int64{0, 70000, 3 << 20, size - 100} {
		for i := off; i < off+100 && i < size; i++ {
			disk[i] = byte(r.Uint32())
		}
	}
	raw := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(raw, disk, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteStreamOptimized(&out, bytes.NewReader(disk), size, []Extent{{0, size}}, VMDKInfo{FileName: "disk.vmdk", CID: 1}); err != nil {
		t.Fatal(err)
	}
	vmdk := filepath.Join(dir, "disk.vmdk")
	if err := os.WriteFile(vmdk, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := exec.Command("qemu-img", "check", vmdk).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img check: %v\n%s", err, o)
	}
	if o, err := exec.Command("qemu-img", "compare", "-f", "raw", "-F", "vmdk", raw, vmdk).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img compare: %v\n%s", err, o)
	}
	// Only the four grains with data are stored.
	if n := bytes.Count(out.Bytes()[vmdkOverhead*Sector:], []byte{0x78, 0x9c}); n < 4 {
		t.Fatalf("found %d zlib streams, want at least 4", n)
	}
	var again bytes.Buffer
	WriteStreamOptimized(&again, bytes.NewReader(disk), size, []Extent{{0, size}}, VMDKInfo{FileName: "disk.vmdk", CID: 1})
	if !bytes.Equal(out.Bytes(), again.Bytes()) {
		t.Fatal("same input gave different VMDKs")
	}
	if err := WriteStreamOptimized(&out, bytes.NewReader(disk), 1000, nil, VMDKInfo{}); err == nil {
		t.Fatal("size not a multiple of 512 accepted")
	}
}
