package main

import (
	"bytes"
	"os"
	"path/filepath"
	stdregexp "regexp"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/image/bootctl"
	"github.com/hafw/hafw/licensing/devkey"
	"github.com/hafw/hafw/upgrade"
)

// upgradeFixture is a boot partition with slot A (1.0) committed, the
// firmware identity of a 3355 running 1.0, and bundles of version 2.0 for
// the 3355 and for another profile.
func upgradeFixture(t *testing.T) (esp, etc, good, other string) {
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
		os.WriteFile(f.Path, []byte("payload "+f.Name), 0o644)
	}
	bundle := func(profile string) string {
		var buf bytes.Buffer
		if _, err := upgrade.Write(&buf, upgrade.Manifest{Profile: profile, Version: "2.0", ConfigSchema: upgrade.DataSchema}, files, devkey.Private(), time.Unix(1700000000, 0)); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "hafw-"+profile+"-2.0"+upgrade.Ext)
		os.WriteFile(p, buf.Bytes(), 0o644)
		return p
	}
	return esp, etc, bundle("3355"), bundle("3310")
}

func TestUpgradeCommand(t *testing.T) {
	esp, etc, good, other := upgradeFixture(t)
	efivars := t.TempDir()
	flags := []string{"--esp", esp, "--etc", etc, "--efivars", efivars}
	code, out, _ := hafw(t, append([]string{"upgrade", "status"}, flags...)...)
	if code != 0 || !regexp(out, `A\s+1\.0\s+good\s+hafw-a\.conf\s+active`) || !regexp(out, `B\s+-\s+-\s+-`) {
		t.Fatalf("status before (exit %d):\n%s", code, out)
	}
	code, _, errOut := hafw(t, append(append([]string{"upgrade", "install"}, flags...), other)...)
	if code != 1 || !strings.Contains(errOut, "bundle is for 3310, this appliance is 3355") {
		t.Fatalf("other profile: exit %d\n%s", code, errOut)
	}
	code, out, errOut = hafw(t, append(append([]string{"upgrade", "install"}, flags...), good)...)
	if code != 0 || !strings.Contains(out, "version 2.0 installed in slot B (entry hafw-b+3.conf, 3 tries)") {
		t.Fatalf("install: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = hafw(t, append([]string{"upgrade", "status"}, flags...)...)
	if code != 0 || !regexp(out, `B\s+2\.0\s+pending\s+hafw-b\+3\.conf\s+pending: boots next`) {
		t.Fatalf("status after (exit %d):\n%s", code, out)
	}
	// Booted from the counted entry: the slot runs on trial.
	if err := os.WriteFile(filepath.Join(efivars, "LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"), bootctl.EncodeString("hafw-b+2-1.conf"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = hafw(t, append([]string{"upgrade", "status"}, flags...)...)
	if code != 0 || !regexp(out, `B\s+2\.0\s+pending\s+hafw-b\+3\.conf\s+running on trial`) {
		t.Fatalf("status on trial (exit %d):\n%s", code, out)
	}
	if code, _, errOut := hafw(t, "upgrade", "status", "--esp", t.TempDir()); code != 1 || !strings.Contains(errOut, "is the boot partition mounted") {
		t.Fatalf("unmounted ESP: exit %d\n%s", code, errOut)
	}
}

func regexp(s, re string) bool { return stdregexp.MustCompile(re).MatchString(s) }
