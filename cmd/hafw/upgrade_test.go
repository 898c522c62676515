package main

import (
	"os"
	"path/filepath"
	stdregexp "regexp"
	"strings"
	"testing"

	"github.com/hafw/hafw/image/bootctl"
	"github.com/hafw/hafw/upgrade/upgradetest"
)

func TestUpgradeCommand(t *testing.T) {
	esp, etc, good, other := upgradetest.Fixture(t)
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
