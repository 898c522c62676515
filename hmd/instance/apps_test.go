package instance

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// testAppEnv makes the test binary play an application (see TestMain).
const testAppEnv = "HAFW_INSTANCE_TEST_APP"

// TestMain lets the test binary be an application of Apps: "ready-late"
// writes the file named by its second argument 300 ms after it starts,
// then sends READY=1 and waits to be stopped; "exit" ends at once without
// ever being ready.
func TestMain(m *testing.M) {
	switch os.Getenv(testAppEnv) {
	case "":
		os.Exit(m.Run())
	case "ready-late":
		time.Sleep(300 * time.Millisecond)
		if err := os.WriteFile(os.Args[1], []byte("ready"), 0o644); err != nil {
			os.Exit(4)
		}
		if sent, err := daemon.SdNotify(false, daemon.SdNotifyReady); !sent || err != nil {
			os.Exit(5)
		}
		select {}
	case "exit":
		os.Exit(3)
	}
}

// testApp is the command line of the test binary playing mode.
func testApp(t *testing.T, mode string, args ...string) []string {
	t.Setenv(testAppEnv, mode)
	return append([]string{os.Args[0]}, args...)
}

// Start returns only after the application said READY=1: what it did
// before that (the marker file) is already visible. Another application
// that never speaks the protocol is taken as ready after ReadyTimeout.
func TestAppsStartWaitsForReady(t *testing.T) {
	mark := filepath.Join(t.TempDir(), "ready")
	a := &Apps{
		Commands:     [][]string{testApp(t, "ready-late", mark), {"sleep", "60"}},
		Socket:       "/run/test.sock",
		RunDir:       t.TempDir(),
		ReadyTimeout: 2 * time.Second,
	}
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(ctx) })
	if b, err := os.ReadFile(mark); err != nil || string(b) != "ready" {
		t.Fatalf("Start returned before the application was ready: %q %v", b, err)
	}
	if n := a.Running(); n != 2 {
		t.Fatalf("running %d, want 2", n)
	}
	if left, _ := filepath.Glob(filepath.Join(a.RunDir, "*")); len(left) != 0 {
		t.Fatalf("notify sockets left behind: %v", left)
	}
}

// An application that exits before it is ready fails the start, and what
// was started is stopped again.
func TestAppsStartFailsWhenAnAppDiesUnready(t *testing.T) {
	a := &Apps{
		Commands: [][]string{{"sleep", "60"}, testApp(t, "exit")},
		Socket:   "/run/test.sock",
		RunDir:   t.TempDir(),
		// Long enough that only the exit can end the wait early.
		ReadyTimeout: time.Minute,
		Grace:        time.Second,
	}
	err := a.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Fatalf("Start: %v, want an 'exited before it was ready' error", err)
	}
	if n := a.Running(); n != 0 {
		t.Fatalf("%d applications still running after a failed start", n)
	}
}

// DORMANT mode: applications run only between Start and Stop; one that
// ignores SIGTERM is killed after the grace time.
func TestAppsStartStop(t *testing.T) {
	mark := filepath.Join(t.TempDir(), "env")
	a := &Apps{
		Commands: [][]string{
			{"sh", "-c", `echo "$` + SocketEnv + `" > ` + mark + `; exec sleep 60`},
			{"sh", "-c", `trap "" TERM; touch ` + mark + `.trap; while :; do sleep 0.05; done`},
		},
		Socket:       "/run/test.sock",
		RunDir:       t.TempDir(),
		ReadyTimeout: 100 * time.Millisecond, // sh does not speak sd_notify
		Grace:        300 * time.Millisecond,
	}
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(ctx) })
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(mark)
		_, trapErr := os.Stat(mark + ".trap")
		if strings.TrimSpace(string(b)) == "/run/test.sock" && trapErr == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("application did not see the socket variable: %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := a.Running(); n != 2 {
		t.Fatalf("running %d, want 2", n)
	}
	var pids []int
	for _, p := range a.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	start := time.Now()
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Fatalf("process %d still exists after Stop: %v", pid, err)
		}
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("the TERM-ignoring application ended after %s, before the grace time", el)
	}
}
