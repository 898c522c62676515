package supervise

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the supervised child: with HAFW_CHILD set it
// behaves as told and exits instead of running tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("HAFW_CHILD"); mode != "" {
		os.Exit(child(mode, os.Getenv("HAFW_CHILD_LOG")))
	}
	os.Exit(m.Run())
}

func child(mode, logPath string) int {
	appendLog := func(s string) {
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s %d\n", s, time.Now().UnixNano())
			f.Close()
		}
	}
	appendLog("start")
	switch mode {
	case "crash":
		fmt.Println("about to crash")
		return 3
	case "noretry":
		fmt.Fprintln(os.Stderr, "bad configuration")
		return ExitNoRestart
	case "hang":
		// Ready, alive for a while, then hung: no more WATCHDOG=1.
		if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
			return 1
		}
		for range 3 {
			daemon.SdNotify(false, daemon.SdNotifyWatchdog)
			time.Sleep(50 * time.Millisecond)
		}
		appendLog("hung")
		select {}
	case "serve", "stubborn":
		term := make(chan os.Signal, 1)
		signal.Notify(term, unix.SIGTERM)
		if mode == "stubborn" {
			signal.Ignore(unix.SIGTERM)
		}
		if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
			fmt.Println("notify:", err)
			return 1
		}
		fmt.Println("serving")
		<-term
		appendLog("graceful")
		return 0
	}
	return 2
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newExecSupervisor is the supervisor as hmd runs it: not PID 1, children
// waited for by exec.Cmd.Wait.
func newExecSupervisor(t *testing.T, b Backoff) (*Supervisor, *syncBuffer) {
	t.Helper()
	out := &syncBuffer{}
	s := &Supervisor{Starter: ExecStarter{}, Backoff: b, Output: out, RunDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	t.Cleanup(s.StopAll)
	return s, out
}

func newSupervisor(t *testing.T, b Backoff) (*Supervisor, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := NewReaper(log)
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	out := &syncBuffer{}
	s := &Supervisor{Starter: r, Backoff: b, Output: out, Ring: NewRing(100), RunDir: t.TempDir(), Log: log}
	t.Cleanup(func() {
		s.StopAll()
		cancel()
		<-done
	})
	return s, out
}

func childSpec(t *testing.T, mode string) (Spec, string) {
	logPath := filepath.Join(t.TempDir(), "child.log")
	return Spec{
		Name: "hmd",
		Path: os.Args[0],
		Env:  []string{"HAFW_CHILD=" + mode, "HAFW_CHILD_LOG=" + logPath},
	}, logPath
}

// events reads the child's log: kind → timestamps.
func events(t *testing.T, path string) map[string][]time.Time {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out := map[string][]time.Time{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var kind string
		var ns int64
		if _, err := fmt.Sscanf(line, "%s %d", &kind, &ns); err == nil {
			out[kind] = append(out[kind], time.Unix(0, ns))
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 10 * time.Second}
	want := []time.Duration{time.Second, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := b.Delay(i); got != w {
			t.Errorf("Delay(%d) = %s, want %s", i, got, w)
		}
	}
	if got := b.Delay(1000); got != 10*time.Second {
		t.Errorf("Delay(1000) = %s (overflow?)", got)
	}
}

func TestRing(t *testing.T) {
	r := NewRing(3)
	io.WriteString(r, "a\nb\nc")
	if got := r.Lines(); strings.Join(got, ",") != "a,b" {
		t.Errorf("before newline: %q", got)
	}
	io.WriteString(r, "\nd\ne\n")
	if got := r.Lines(); strings.Join(got, ",") != "c,d,e" {
		t.Errorf("after wrap: %q", got)
	}
}

func TestCrashingChildIsRestartedWithBackoff(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond, Stable: time.Hour}
	s, out := newSupervisor(t, b)
	spec, logPath := childSpec(t, "crash")
	svc := s.Start(context.Background(), spec)
	waitFor(t, "5 starts", func() bool { return len(events(t, logPath)["start"]) >= 5 })
	svc.Stop()

	starts := events(t, logPath)["start"]
	for i := 1; i < 5; i++ {
		gap := starts[i].Sub(starts[i-1])
		if min := b.Delay(i); gap < min {
			t.Errorf("restart %d came after %s, want at least the backoff %s", i, gap, min)
		}
	}
	// The cap holds: the 4th and 5th gaps both wait Max, not 800ms.
	if gap := starts[4].Sub(starts[3]); gap > b.Max+5*time.Second {
		t.Errorf("restart 4 came after %s; the cap is %s", gap, b.Max)
	}
	st := svc.Status()
	if st.State != Stopped || st.Restarts < 4 || st.LastExit != "exited with status 3" {
		t.Errorf("status %+v", st)
	}
	if !strings.Contains(out.String(), "[hmd] about to crash") || !strings.Contains(out.String(), "restarting in 200ms (failure 2)") {
		t.Errorf("console output lacks child output or backoff notes:\n%s", out)
	}
	if lines := s.Ring.Lines(); len(lines) == 0 {
		t.Error("ring buffer empty")
	}
}

func TestExitNoRestartIsNotRestarted(t *testing.T) {
	s, _ := newSupervisor(t, Backoff{Initial: 10 * time.Millisecond, Max: 10 * time.Millisecond})
	spec, logPath := childSpec(t, "noretry")
	svc := s.Start(context.Background(), spec)
	select {
	case <-svc.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("supervision did not end after exit 78")
	}
	time.Sleep(100 * time.Millisecond) // ten backoff periods: a restart would show
	if n := len(events(t, logPath)["start"]); n != 1 {
		t.Errorf("child started %d times, want 1", n)
	}
	if st := svc.Status(); st.State != Failed || st.Restarts != 0 {
		t.Errorf("status %+v", st)
	}
}

func TestReadyThenOrderlyStop(t *testing.T) {
	s, out := newSupervisor(t, DefaultBackoff())
	spec, logPath := childSpec(t, "serve")
	svc := s.Start(context.Background(), spec)
	select {
	case <-svc.Ready():
	case <-time.After(20 * time.Second):
		t.Fatalf("no READY=1; output:\n%s", out)
	}
	if st := svc.Status(); st.State != Running || st.PID == 0 {
		t.Errorf("status after ready %+v", st)
	}
	pid := svc.Status().PID
	svc.Stop()
	if n := len(events(t, logPath)["graceful"]); n != 1 {
		t.Errorf("child did not shut down gracefully on SIGTERM (graceful=%d)", n)
	}
	if err := unix.Kill(pid, 0); err != unix.ESRCH {
		t.Errorf("child %d still exists after Stop: %v", pid, err)
	}
	if st := svc.Status(); st.State != Stopped || st.Restarts != 0 {
		t.Errorf("status after stop %+v", st)
	}
}

func TestStubbornChildIsKilled(t *testing.T) {
	s, _ := newSupervisor(t, DefaultBackoff())
	spec, logPath := childSpec(t, "stubborn")
	spec.StopTimeout = 300 * time.Millisecond
	svc := s.Start(context.Background(), spec)
	<-svc.Ready()
	svc.Stop()
	if n := len(events(t, logPath)["graceful"]); n != 0 {
		t.Error("stubborn child claims graceful exit")
	}
	if st := svc.Status(); st.State != Stopped {
		t.Errorf("status %+v", st)
	}
}

func TestMissingBinary(t *testing.T) {
	s, out := newSupervisor(t, DefaultBackoff())
	svc := s.Start(context.Background(), Spec{Name: "hmd", Path: filepath.Join(t.TempDir(), "nope")})
	<-svc.Done()
	if st := svc.Status(); st.State != NotExists || !strings.Contains(out.String(), "not started") {
		t.Errorf("status %+v, output %q", st, out)
	}
}

// A child that stops sending WATCHDOG=1 after READY=1 is killed and
// restarted like a crash, and OnExit hears why; with ExecStarter (hmd)
// exit statuses come from exec.Cmd.Wait.
func TestWatchdogRestartsAHungChild(t *testing.T) {
	s, _ := newExecSupervisor(t, Backoff{Initial: 50 * time.Millisecond, Max: 50 * time.Millisecond})
	spec, logPath := childSpec(t, "hang")
	spec.Watchdog = 400 * time.Millisecond
	var mu sync.Mutex
	var exits []string
	spec.OnExit = func(why string) {
		mu.Lock()
		defer mu.Unlock()
		exits = append(exits, why)
	}
	svc := s.Start(context.Background(), spec)
	waitFor(t, "a restart after the hang", func() bool { return len(events(t, logPath)["start"]) >= 2 })
	svc.Stop()
	ev := events(t, logPath)
	if len(ev["hung"]) == 0 {
		t.Fatal("the child never hung")
	}
	// Killed no earlier than one watchdog period after it went quiet.
	if gap := ev["start"][1].Sub(ev["hung"][0]); gap < spec.Watchdog {
		t.Errorf("restarted %s after the last ping, before the watchdog period %s", gap, spec.Watchdog)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(exits) == 0 || !strings.Contains(exits[0], "watchdog") {
		t.Errorf("OnExit heard %q, want a watchdog exit", exits)
	}
	if st := svc.Status(); !strings.Contains(st.LastExit, "watchdog") || st.Restarts < 1 {
		t.Errorf("status %+v", st)
	}
}

// ExecStarter reports the real exit status of a crashing child.
func TestExecStarterCrash(t *testing.T) {
	s, _ := newExecSupervisor(t, Backoff{Initial: 20 * time.Millisecond, Max: 20 * time.Millisecond})
	spec, logPath := childSpec(t, "crash")
	svc := s.Start(context.Background(), spec)
	waitFor(t, "2 starts", func() bool { return len(events(t, logPath)["start"]) >= 2 })
	svc.Stop()
	if st := svc.Status(); st.LastExit != "exited with status 3" {
		t.Errorf("status %+v", st)
	}
}
