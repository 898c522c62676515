package scenarios

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Source is the committed code a run measures.
type Source struct {
	Dir        string // an extracted copy of the commit
	Commit     string
	CommitTime int64 // seconds since 1970, the builds' SOURCE_DATE_EPOCH
}

// Snapshot extracts HEAD of the git tree into dir. The benchmarks build and
// run this copy, not the working tree: several engineers edit the working
// tree at once, and a half-edited file must neither break a long run nor
// end up in a figure nobody can reproduce. Uncommitted work is therefore
// not measured.
func Snapshot(ctx context.Context, tree, dir string) (Source, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", tree, "log", "-1", "--format=%H %ct").Output()
	if err != nil {
		return Source{}, fmt.Errorf("reading HEAD of %s: %w", tree, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return Source{}, fmt.Errorf("reading HEAD of %s: unexpected %q", tree, out)
	}
	ct, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return Source{}, fmt.Errorf("reading HEAD's commit time: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Source{}, fmt.Errorf("creating snapshot dir: %w", err)
	}
	archive := exec.CommandContext(ctx, "git", "-C", tree, "archive", "--format=tar", f[0])
	untar := exec.CommandContext(ctx, "tar", "-x", "-C", dir)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return Source{}, fmt.Errorf("snapshot: %w", err)
	}
	untar.Stdin = pipe
	var archErr, untarErr strings.Builder
	archive.Stderr, untar.Stderr = &archErr, &untarErr
	if err := untar.Start(); err != nil {
		return Source{}, fmt.Errorf("snapshot: starting tar: %w", err)
	}
	if err := archive.Run(); err != nil {
		_ = untar.Wait()
		return Source{}, fmt.Errorf("snapshot: git archive: %w: %s", err, archErr.String())
	}
	if err := untar.Wait(); err != nil {
		return Source{}, fmt.Errorf("snapshot: tar: %w: %s", err, untarErr.String())
	}
	return Source{Dir: dir, Commit: f[0], CommitTime: ct}, nil
}
