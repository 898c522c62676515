package flash

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const mountinfoSample = `22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw
25 22 0:21 / /proc rw,nosuid - proc proc rw
30 22 8:17 / /data rw,relatime shared:5 - ext4 /dev/sdb1 rw
`

func TestParseMountinfo(t *testing.T) {
	ms, err := ParseMountinfo(strings.NewReader(mountinfoSample))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 || ms[0] != (Mount{Dev: "8:2", Point: "/", Source: "/dev/sda2"}) || ms[2].Point != "/data" {
		t.Fatalf("%+v", ms)
	}
	if _, err := ParseMountinfo(strings.NewReader("garbage line\n")); err == nil {
		t.Fatal("malformed mountinfo accepted")
	}
}

func TestInUse(t *testing.T) {
	ms, _ := ParseMountinfo(strings.NewReader(mountinfoSample))
	sda := Target{Path: "/dev/sda", Devs: map[string]string{"8:0": "sda", "8:1": "sda1", "8:2": "sda2"}}
	if err := sda.InUse(ms); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "holds the running system") || !strings.Contains(err.Error(), "sda2 is mounted on /") {
		t.Errorf("sda: %v", err)
	}
	sdb := Target{Path: "/dev/sdb", Devs: map[string]string{"8:16": "sdb", "8:17": "sdb1"}}
	if err := sdb.InUse(ms); !errors.Is(err, ErrInUse) || strings.Contains(err.Error(), "running system") || !strings.Contains(err.Error(), "/data") {
		t.Errorf("sdb: %v", err)
	}
	sdc := Target{Path: "/dev/sdc", Devs: map[string]string{"8:32": "sdc"}}
	if err := sdc.InUse(ms); err != nil {
		t.Errorf("sdc: %v", err)
	}
	md := Target{Path: "/dev/sdc", Devs: map[string]string{"8:32": "sdc"}, Holders: []string{"md0"}}
	if err := md.InUse(ms); err == nil || !strings.Contains(err.Error(), "held by md0") {
		t.Errorf("md member: %v", err)
	}
}

func TestReadGPT(t *testing.T) {
	img := writeFixture(t, t.TempDir(), 1, 2, fixData/sector)
	b, _ := os.ReadFile(img)
	parts, err := ReadGPT(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || parts[0] != (Part{Index: 1, Name: "hafw-esp", Offset: fixESP, Size: fixData - fixESP}) ||
		parts[1] != (Part{Index: 2, Name: "hafw-data", Offset: fixData, Size: 2 << 20}) {
		t.Fatalf("%+v", parts)
	}
	for name, off := range map[string]int{"header": 512 + 40, "entries": 1024 + 20} {
		c := bytes.Clone(b)
		c[off] ^= 1
		if _, err := ReadGPT(bytes.NewReader(c)); !errors.Is(err, ErrNoGPT) || !strings.Contains(err.Error(), "CRC") {
			t.Errorf("corrupt %s: %v", name, err)
		}
	}
	if _, err := ReadGPT(bytes.NewReader(make([]byte, 4096))); !errors.Is(err, ErrNoGPT) {
		t.Errorf("blank disk: %v", err)
	}
}

// FuzzReadGPT feeds arbitrary first sectors to the GPT reader: it must
// never panic nor return partitions outside sane bounds.
func FuzzReadGPT(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzReadGPT/*")
	if len(seeds) == 0 {
		f.Fatal("no checked-in seed corpus in testdata/fuzz/FuzzReadGPT")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parts, err := ReadGPT(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, p := range parts {
			if p.Offset < 0 || p.Size <= 0 {
				t.Fatalf("partition %+v", p)
			}
		}
	})
}
