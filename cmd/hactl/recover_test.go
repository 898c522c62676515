package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRecoverArguments: recover names the primary; without hmd it fails
// with exit status 1 and the command's name.
func TestRecoverArguments(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--socket", sock, "recover"}, 2, "--primary is required"},
		{[]string{"--socket", sock, "recover", "--primary", "10.246.0.2", "extra"}, 2, "unexpected arguments"},
		{[]string{"--socket", sock, "recover", "--primary", "10.246.0.2", "--primary-password", "pw"}, 1, "hactl recover:"},
	} {
		var out, errOut bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		code := run(ctx, c.args, &out, &errOut)
		cancel()
		if code != c.code || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("hactl %v: exit %d, stderr %q; want exit %d and %q", c.args, code, errOut.String(), c.code, c.want)
		}
	}
}
