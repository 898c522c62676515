package recovery

import (
	"os"
	"path/filepath"
	"testing"
)

func TestInternalDisks(t *testing.T) {
	sys := t.TempDir()
	for name, size := range map[string]string{"vda": "4194304", "vdb": "8388608", "loop0": "100", "sr0": "2048", "nvme0n1": "0", "sda": "2048"} {
		d := filepath.Join(sys, "block", name)
		os.MkdirAll(filepath.Join(d, "device"), 0o755)
		os.WriteFile(filepath.Join(d, "size"), []byte(size+"\n"), 0o644)
	}
	os.WriteFile(filepath.Join(sys, "block", "vdb", "device", "model"), []byte("QEMU disk \n"), 0o644)
	got, err := InternalDisks(sys, "vda")
	if err != nil {
		t.Fatal(err)
	}
	want := []Disk{{Name: "sda", Size: 2048 * 512}, {Name: "vdb", Model: "QEMU disk", Size: 8388608 * 512}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}
