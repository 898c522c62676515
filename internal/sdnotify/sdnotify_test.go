package sdnotify

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// notify sends state the way a child does: go-systemd's SdNotify with
// NOTIFY_SOCKET from the environment.
func notify(t *testing.T, s *Socket, state string) {
	t.Helper()
	t.Setenv("NOTIFY_SOCKET", strings.TrimPrefix(s.Env(), "NOTIFY_SOCKET="))
	if sent, err := daemon.SdNotify(false, state); err != nil || !sent {
		t.Fatalf("SdNotify(%q): sent %v, err %v", state, sent, err)
	}
}

func TestWaitReady(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n.sock")
	if err := os.WriteFile(path, nil, 0o600); err != nil { // a stale file from a crash
		t.Fatal(err)
	}
	s, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	notify(t, s, "STATUS=loading")
	if err := s.WaitReady(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("before READY=1: %v, want deadline exceeded", err)
	}
	notify(t, s, "STATUS=up\nREADY=1")
	notify(t, s, "READY=1") // a second READY=1 is harmless
	if err := s.WaitReady(context.Background()); err != nil {
		t.Fatalf("after READY=1: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitReady(context.Background()); err != nil {
		t.Fatalf("a closed socket forgot READY=1: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("Close left the socket file: %v", err)
	}
}

func TestWaitReadyClosed(t *testing.T) {
	s, err := Listen(filepath.Join(t.TempDir(), "n.sock"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.WaitReady(context.Background()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("closed before READY=1: %v, want net.ErrClosed", err)
	}
}

// WATCHDOG=1 pings are delivered (merged while nobody looks); other
// assignments are not pings.
func TestWatchdogPings(t *testing.T) {
	s, err := Listen(filepath.Join(t.TempDir(), "n.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	notify(t, s, "STATUS=busy\nWATCHDOG_USEC=5")
	select {
	case <-s.Watchdog():
		t.Fatal("a ping without WATCHDOG=1")
	case <-time.After(100 * time.Millisecond):
	}
	notify(t, s, "WATCHDOG=1")
	notify(t, s, "WATCHDOG=1")
	select {
	case <-s.Watchdog():
	case <-time.After(10 * time.Second):
		t.Fatal("WATCHDOG=1 not delivered")
	}
	select {
	case <-s.Watchdog():
		// The second ping may or may not have been merged; both are fine.
	case <-time.After(50 * time.Millisecond):
	}
	notify(t, s, "WATCHDOG=1")
	select {
	case <-s.Watchdog():
	case <-time.After(10 * time.Second):
		t.Fatal("a later WATCHDOG=1 not delivered")
	}
}
