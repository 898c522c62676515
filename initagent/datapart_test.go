package initagent

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hafw/hafw/internal/testenv"
)

// extHead builds the first 2 KiB of an ext4 device with label.
func extHead(label string) []byte {
	head := make([]byte, 2048)
	binary.LittleEndian.PutUint16(head[1024+0x38:], 0xEF53)
	copy(head[1024+0x78:], label)
	return head
}

func TestParseSuperblock(t *testing.T) {
	sb, err := ParseSuperblock(extHead("hafw-data"))
	if err != nil || !sb.Ext || sb.Label != "hafw-data" || sb.Blank {
		t.Errorf("ext4 head: %+v %v", sb, err)
	}
	sb, err = ParseSuperblock(make([]byte, 2048))
	if err != nil || sb.Ext || !sb.Blank {
		t.Errorf("zero head: %+v %v", sb, err)
	}
	other := make([]byte, 2048)
	other[510], other[511] = 0x55, 0xAA
	if sb, _ := ParseSuperblock(other); sb.Blank || sb.Ext {
		t.Errorf("MBR head reported as %+v", sb)
	}
	if _, err := ParseSuperblock(make([]byte, 100)); err == nil {
		t.Error("short head accepted")
	}
}

// fakeDisks lays out a sysfs and /dev tree with the given devices.
func fakeDisks(t *testing.T, devs map[string][]byte, partNames map[string]string) Disks {
	t.Helper()
	root := t.TempDir()
	d := Disks{SysRoot: filepath.Join(root, "sys"), DevRoot: filepath.Join(root, "dev")}
	for name, head := range devs {
		dir := filepath.Join(d.SysRoot, "class", "block", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		uevent := "MAJOR=254\nDEVNAME=" + name + "\n"
		if pn := partNames[name]; pn != "" {
			uevent += "PARTNAME=" + pn + "\n"
		}
		if err := os.WriteFile(filepath.Join(dir, "uevent"), []byte(uevent), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(d.DevRoot, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d.DevRoot, name), head, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestFindDataPartition(t *testing.T) {
	d := fakeDisks(t, map[string][]byte{
		"vda":  make([]byte, 4096),
		"vda1": extHead("ESP-ish"),
		"vda2": extHead("hafw-data"),
		"sr0":  nil, // empty drive: unreadable head
	}, nil)
	p, err := d.Find("hafw-data")
	if err != nil || p.Device != filepath.Join(d.DevRoot, "vda2") || p.Blank {
		t.Errorf("Find = %+v, %v", p, err)
	}
}

func TestFindBlankDataPartitionByGPTName(t *testing.T) {
	d := fakeDisks(t, map[string][]byte{
		"vda1": extHead("boot"),
		"vda2": make([]byte, 4096),
		"vda3": make([]byte, 4096),
	}, map[string]string{"vda2": "hafw-data"})
	p, err := d.Find("hafw-data")
	if err != nil || p.Device != filepath.Join(d.DevRoot, "vda2") || !p.Blank {
		t.Errorf("Find = %+v, %v", p, err)
	}
}

func TestFindNeverFormatsOverData(t *testing.T) {
	used := make([]byte, 4096)
	used[3000] = 1 // something the agent does not recognise
	d := fakeDisks(t, map[string][]byte{"vda2": used}, map[string]string{"vda2": "hafw-data"})
	if p, err := d.Find("hafw-data"); !errors.Is(err, ErrNoDataPartition) {
		t.Errorf("non-blank unknown partition: Find = %+v, %v; want ErrNoDataPartition", p, err)
	}
}

func TestParseModulesList(t *testing.T) {
	mods, err := ParseModulesList("# NIC\n/lib/modules/x/e1000e.ko\n\n  /lib/modules/x/ext4.ko  \n")
	if err != nil || len(mods) != 2 || mods[1] != "/lib/modules/x/ext4.ko" {
		t.Errorf("got %q, %v", mods, err)
	}
	if _, err := ParseModulesList("e1000e.ko\n"); err == nil {
		t.Error("relative path accepted")
	}
}

// TestMakeFSThenFindByLabel formats a blank image file with the real
// mke2fs and finds it again by its label, as the first boot does with the
// data partition.
func TestMakeFSThenFindByLabel(t *testing.T) {
	testenv.RequireCommand(t, "mke2fs")
	d := fakeDisks(t, map[string][]byte{"vda1": extHead("boot")}, map[string]string{"vda2": "hafw-data"})
	img := filepath.Join(d.DevRoot, "vda2")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 16<<20); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(d.SysRoot, "class", "block", "vda2"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.SysRoot, "class", "block", "vda2", "uevent"), []byte("PARTNAME=hafw-data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := d.Find("hafw-data")
	if err != nil || !p.Blank || p.Device != img {
		t.Fatalf("before mkfs: %+v, %v", p, err)
	}
	if err := (LinuxSystem{}).MakeFS(context.Background(), img, "hafw-data"); err != nil {
		t.Fatal(err)
	}
	p, err = d.Find("hafw-data")
	if err != nil || p.Blank || p.Device != img {
		t.Errorf("after mkfs: %+v, %v", p, err)
	}
}
