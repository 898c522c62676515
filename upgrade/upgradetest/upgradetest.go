// Package upgradetest holds the fixture of the upgrade commands' tests: a
// running appliance's boot partition and firmware identity, and bundles.
package upgradetest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hafw/hafw/licensing/devkey"
	"github.com/hafw/hafw/upgrade"
)

// Fixture is a boot partition with slot A (1.0) committed, the
// firmware identity of a 3355 running 1.0, and bundles of version 2.0 for
// the 3355 and for another profile.
func Fixture(t *testing.T) (esp, etc, good, other string) {
	t.Helper()
	esp, etc = t.TempDir(), t.TempDir()
	d := upgrade.Dir(esp)
	for name, data := range map[string][]byte{
		upgrade.LoaderConf: upgrade.LoaderConfText(3),
		upgrade.EntriesDir + "/" + upgrade.EntryName("a", false, 0): upgrade.EntryText("hafw 3355 1.0 (slot A)", "a", 1, "1.0", "console=ttyS0", false),
		upgrade.SlotsFile: upgrade.Slots{Active: "a", Slots: map[string]upgrade.Slot{"a": {Version: "1.0", State: upgrade.StateGood, Seq: 1}}}.Marshal(),
		"hafw/a/vmlinuz":  []byte("k1"), "hafw/a/initrd.zst": []byte("i1"),
	} {
		if err := d.WriteFile(name, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string][]byte{"profile": []byte("3355\n"), "version": []byte("1.0\n"), "vendor.pub": devkey.PublicKeyFile()} {
		if err := os.WriteFile(filepath.Join(etc, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	payload := t.TempDir()
	files := []upgrade.File{{Name: upgrade.KernelName, Path: filepath.Join(payload, "k")}, {Name: upgrade.InitrdName, Path: filepath.Join(payload, "i")}}
	for _, f := range files {
		if err := os.WriteFile(f.Path, []byte("payload "+f.Name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bundle := func(profile string) string {
		var buf bytes.Buffer
		if _, err := upgrade.Write(&buf, upgrade.Manifest{Profile: profile, Version: "2.0", ConfigSchema: upgrade.DataSchema}, files, devkey.Private(), time.Unix(1700000000, 0)); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "hafw-"+profile+"-2.0"+upgrade.Ext)
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return esp, etc, bundle("3355"), bundle("3310")
}
