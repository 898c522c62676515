package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hafw/hafw/licensing"
)

// TestBuildBadInput runs `hafw build` with each kind of mistake that is
// caught before any work: a clear one-line error, the right exit status,
// and nothing written to the output directory.
func TestBuildBadInput(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	out := filepath.Join(t.TempDir(), "out")
	kernel := filepath.Join(t.TempDir(), "vmlinuz")
	if err := os.WriteFile(kernel, []byte("not the kernel you expect"), 0o644); err != nil {
		t.Fatal(err)
	}
	otherPub, otherKey := filepath.Join(t.TempDir(), "other.pub"), filepath.Join(t.TempDir(), "other.key")
	pub, priv, err := licensing.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := licensing.WritePublicKey(otherPub, pub); err != nil {
		t.Fatal(err)
	}
	if err := licensing.WritePrivateKey(otherKey, priv); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown profile", []string{"--profile", "MSE-9999"}, 2, "unknown appliance model"},
		{"no profile", nil, 2, "missing --profile"},
		{"profile and all", []string{"--profile", "3355", "--all"}, 2, "not both"},
		{"missing kernel", []string{"--profile", "3355", "--kernel", "/nonexistent/vmlinuz", "--modules", "/nonexistent"}, 1, "does not exist"},
		{"kernel without modules", []string{"--profile", "3355", "--kernel", "/nonexistent/vmlinuz"}, 2, "needs --modules"},
		{"URL without checksum", []string{"--profile", "3355", "--kernel", "http://127.0.0.1:1/vmlinuz"}, 2, "--kernel-sha256"},
		{"bad checksum syntax", []string{"--profile", "3355", "--kernel", "http://127.0.0.1:1/vmlinuz", "--kernel-sha256", "abc", "--modules", "/x"}, 1, "64 hex digits"},
		{"kernel file with wrong checksum", []string{"--profile", "3355", "--kernel", kernel, "--modules", "/x", "--kernel-sha256", strings.Repeat("0", 64)}, 1, "checksum mismatch"},
		{"vendor-pub without its key", []string{"--profile", "3355", "--vendor-pub", otherPub}, 2, "give its private half with --vendor-key"},
		{"vendor-pub of another key", []string{"--profile", "3355", "--vendor-pub", "../../licensing/devkey/dev.pub", "--vendor-key", otherKey}, 2, "not the public half of --vendor-key"},
		{"vendor-key not a private key", []string{"--profile", "3355", "--vendor-key", otherPub}, 1, "--vendor-key"},
		{"no kernel in cache", []string{"--profile", "3355", "--cache", t.TempDir()}, 1, "no kernel"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"build", "--out", out, "--cache", filepath.Join(t.TempDir(), "cache")}, c.args...)
			code := run(context.Background(), args, &stdout, &stderr)
			if code != c.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, c.code, stderr.String())
			}
			msg := lastLine(stderr.String())
			if !strings.Contains(msg, c.want) || !strings.HasPrefix(msg, "hafw build: ") {
				t.Fatalf("error %q, want a line mentioning %q", msg, c.want)
			}
			if entries, _ := os.ReadDir(out); len(entries) != 0 {
				t.Fatalf("output directory has %d entries after a refused build", len(entries))
			}
		})
	}
}

// lastLine skips the log lines (the development-key warning) and the
// usage text a usage error prints after the message.
func lastLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "hafw build: ") {
			return l
		}
	}
	return strings.TrimSpace(s)
}
