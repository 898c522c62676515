package scenarios

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hafw/hafw/internal/testenv"
)

// TestSnapshotIsTheCommit: the copy holds HEAD's files and nothing that is
// only in the working tree.
func TestSnapshotIsTheCommit(t *testing.T) {
	testenv.RequireCommand(t, "git", "tar")
	tree := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", tree, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	if err := os.WriteFile(filepath.Join(tree, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "go.mod")
	git("commit", "-q", "-m", "one")
	// Half-edited work that must not be measured.
	if err := os.WriteFile(filepath.Join(tree, "go.mod"), []byte("module half-edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "new.go"), []byte("package x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := Snapshot(context.Background(), tree, filepath.Join(t.TempDir(), "src"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(src.Commit) || src.CommitTime < 315532800 {
		t.Fatalf("source %+v", src)
	}
	data, err := os.ReadFile(filepath.Join(src.Dir, "go.mod"))
	if err != nil || strings.TrimSpace(string(data)) != "module x" {
		t.Fatalf("snapshot go.mod = %q, %v; want the committed one", data, err)
	}
	if _, err := os.Stat(filepath.Join(src.Dir, "new.go")); err == nil {
		t.Fatal("an uncommitted file is in the snapshot")
	}
	if _, err := Snapshot(context.Background(), t.TempDir(), filepath.Join(t.TempDir(), "src")); err == nil {
		t.Fatal("a directory without a git history gave a snapshot")
	}
}
