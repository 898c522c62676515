package main

import (
	"path/filepath"
	"testing"
)

// TestRecoverArguments: recover names the primary or the secondary, not
// both; without hmd it fails
// with exit status 1 and the command's name.
func TestRecoverArguments(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	checkExits(t, []exitCase{
		{[]string{"--socket", sock, "recover"}, 2, "--primary is required"},
		{[]string{"--socket", sock, "recover", "--primary", "10.246.0.2", "extra"}, 2, "unexpected arguments"},
		{[]string{"--socket", sock, "recover", "--primary", "10.246.0.2", "--primary-password", "pw"}, 1, "hactl recover:"},
		{[]string{"--socket", sock, "recover", "--primary", "10.246.0.2", "--secondary", "10.246.0.3"}, 2, "--primary is required (on the secondary), or --secondary"},
		{[]string{"--socket", sock, "recover", "--secondary", "10.246.0.3", "--primary-password", "pw"}, 1, "hactl recover:"},
	})
}
