package recovery

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hafw/hafw/image/flash"
	"github.com/hafw/hafw/image/flash/flashtest"
)

// installerFixture lays out a fake sysfs with the media disk vda and the
// internal disk vdb, whose "device" is a plain file holding an installed
// firmware with precious data; it returns the installer (without input),
// the firmware image and the internal disk's path.
func installerFixture(t *testing.T) (Installer, string, string) {
	t.Helper()
	root := t.TempDir()
	sys, dev := filepath.Join(root, "sys"), filepath.Join(root, "dev")
	for _, d := range []string{"vda", "vdb"} {
		os.MkdirAll(filepath.Join(sys, "block", d), 0o755)
		os.WriteFile(filepath.Join(sys, "block", d, "size"), []byte("12288\n"), 0o644)
	}
	os.MkdirAll(dev, 0o755)
	old := flashtest.Write(t, t.TempDir(), "old.img", 0x01, 0x5A, flashtest.Data/512)
	b, _ := os.ReadFile(old)
	disk := filepath.Join(dev, "vdb")
	if err := os.WriteFile(disk, b, 0o644); err != nil {
		t.Fatal(err)
	}
	fw := flashtest.Write(t, t.TempDir(), "hafw-3355-2.0.img", 0xE5, 0xDA, flashtest.Data/512)
	return Installer{Host: flash.Host{Sys: sys, Mountinfo: "/proc/self/mountinfo"}, Dev: dev, Firmware: fw, MediaDisk: "vda"}, fw, disk
}

func TestInstallerKeepsDataByDefault(t *testing.T) {
	in, fw, disk := installerFixture(t)
	before, _ := os.ReadFile(disk)
	var out bytes.Buffer
	in.In, in.Out = bufio.NewReader(strings.NewReader("vda\n\n\nyes\n")), &out
	got, err := in.Run(context.Background())
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, w := range []string{"vdb", `Invalid answer: "vda" is not one of the listed disks.`, "has a hafw-data partition", "its hafw-data partition is kept", "hafw-installer: installed onto " + disk} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	if got != disk {
		t.Errorf("installed onto %s", got)
	}
	after, _ := os.ReadFile(disk)
	want, _ := os.ReadFile(fw)
	d, e := flashtest.Data, flashtest.Data+flashtest.DataSize
	if !bytes.Equal(after[:d], want[:d]) || !bytes.Equal(after[d:e], before[d:e]) {
		t.Error("boot side not installed or data partition not kept")
	}
}

func TestInstallerAbortAndOverwrite(t *testing.T) {
	in, fw, disk := installerFixture(t)
	before, _ := os.ReadFile(disk)
	var out bytes.Buffer
	in.In, in.Out = bufio.NewReader(strings.NewReader("vdb\nno\nno\n")), &out
	if _, err := in.Run(context.Background()); !errors.Is(err, ErrAborted) {
		t.Fatalf("err = %v", err)
	}
	if after, _ := os.ReadFile(disk); !bytes.Equal(after, before) {
		t.Fatal("aborted install changed the disk")
	}
	in.In = bufio.NewReader(strings.NewReader("\nno\nyes\n")) // do not keep: the whole disk
	if _, err := in.Run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	after, _ := os.ReadFile(disk)
	want, _ := os.ReadFile(fw)
	if !bytes.Equal(after, want) || !strings.Contains(out.String(), "ALL DATA ON IT WILL BE LOST") {
		t.Fatal("disk does not hold the whole firmware")
	}
}
