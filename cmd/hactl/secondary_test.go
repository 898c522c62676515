package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestSecondaryArguments: the action and the secondary are required, a
// license file must exist and fit; without hmd the call fails with exit
// status 1 and the command's name.
func TestSecondaryArguments(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "none.sock")
	lic := filepath.Join(dir, "va2.lic")
	if err := os.WriteFile(lic, []byte("hafw-license: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.lic")
	if err := os.WriteFile(huge, bytes.Repeat([]byte("x"), 20<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	checkExits(t, []exitCase{
		{[]string{"--socket", sock, "secondary"}, 2, "inspect, license or deactivate"},
		{[]string{"--socket", sock, "secondary", "delete"}, 2, "inspect, license or deactivate"},
		{[]string{"--socket", sock, "secondary", "inspect"}, 2, "--secondary is required"},
		{[]string{"--socket", sock, "secondary", "inspect", "--file", lic}, 2, "flag provided but not defined"},
		{[]string{"--socket", sock, "secondary", "license", "--secondary", "10.246.0.3"}, 2, "--file is required"},
		{[]string{"--socket", sock, "secondary", "license", "--secondary", "10.246.0.3", "--file", filepath.Join(dir, "missing.lic")}, 1, "no such file"},
		{[]string{"--socket", sock, "secondary", "license", "--secondary", "10.246.0.3", "--file", huge}, 1, "larger than a license file"},
		{[]string{"--socket", sock, "secondary", "inspect", "--secondary", "10.246.0.3", "--secondary-password", "pw"}, 1, "hactl secondary:"},
		{[]string{"--socket", sock, "secondary", "license", "--secondary", "10.246.0.3", "--secondary-password", "pw", "--file", lic}, 1, "hactl secondary:"},
	})
}
