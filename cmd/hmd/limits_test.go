package main

import (
	"io"
	"log/slog"
	"syscall"
	"testing"
)

// TestRaiseFileLimit: hmd does not keep a low inherited open-file limit
// (256 was once exhausted by idle connections, and state writes failed).
func TestRaiseFileLimit(t *testing.T) {
	var saved syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &saved); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &saved) })
	low := syscall.Rlimit{Cur: 256, Max: saved.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	raiseFileLimit(slog.New(slog.NewTextHandler(io.Discard, nil)))
	var got syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &got); err != nil {
		t.Fatal(err)
	}
	// Raising the hard limit needs CAP_SYS_RESOURCE; without it the soft
	// limit goes up to the hard one.
	want := min(uint64(fileLimit), saved.Max)
	if got.Cur < want {
		t.Fatalf("open-file limit %d after raiseFileLimit, want at least %d", got.Cur, want)
	}
}
