// Package testenv lets a test state what it needs from the machine (root,
// a command, KVM-less QEMU, …). Where the need is not met the test is
// skipped with the reason on a developer's machine, and fails in CI (CI=true),
// because CI installs everything and a silently skipped tier proves nothing.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI, where every tier must run.
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable skips the test with reason locally and fails it in CI.
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	if InCI() {
		t.Fatalf("cannot run in CI: %s", reason)
	}
	t.Skipf("skipped: %s (this fails under CI=true)", reason)
}

// RequireRoot needs uid 0 (network namespaces, mounts, raw sockets).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root")
	}
}

// RequireCommand needs each named program on PATH.
func RequireCommand(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			Unavailable(t, "needs "+n+" on PATH (make test installs it)")
		}
	}
}

// Short skips long tests under `go test -short` (never in CI).
func Short(t testing.TB, what string) {
	t.Helper()
	if testing.Short() && !InCI() {
		t.Skipf("skipped in -short mode: %s", what)
	}
}
