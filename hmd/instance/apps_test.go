package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/hafw/hafw/hmd/appmon"
	"github.com/hafw/hafw/internal/supervise"
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
		// The test binary's applications learn their mode from hmd's
		// environment, which applications otherwise do not see.
		passEnv = append(passEnv, testAppEnv)
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

// appsOf is an applications configuration running each command line
// unchecked under policy (the default policy when zero).
func appsOf(t *testing.T, policy appmon.Policy, cmds ...[]string) appmon.Config {
	t.Helper()
	c := appmon.Config{Policy: policy}
	for i, argv := range cmds {
		if !filepath.IsAbs(argv[0]) {
			p, err := exec.LookPath(argv[0])
			if err != nil {
				t.Fatal(err)
			}
			argv = append([]string{p}, argv[1:]...)
		}
		c.Applications = append(c.Applications, appmon.App{Name: fmt.Sprintf("app%d", i), Command: argv})
	}
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	c, err = appmon.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testApp is the command line of the test binary playing mode.
func testApp(t *testing.T, mode string, args ...string) []string {
	t.Setenv(testAppEnv, mode)
	// The test binary sits in go's private build directory, which the
	// application account cannot reach: run a copy.
	bin := filepath.Join(appDir(t), "app")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return append([]string{bin}, args...)
}

// Start returns only after the application said READY=1: what it did
// before that (the marker file) is already visible. Another application
// that never speaks the protocol is taken as ready after ReadyTimeout.
func TestAppsStartWaitsForReady(t *testing.T) {
	mark := filepath.Join(appDir(t), "ready")
	a := &Apps{
		Config:       appsOf(t, appmon.Policy{}, testApp(t, "ready-late", mark), []string{"sleep", "60"}),
		Socket:       "/run/test.sock",
		RunDir:       appDir(t),
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
	// The notify sockets live as long as the processes (WATCHDOG=1 comes
	// through them) and go with them.
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(a.RunDir, "*")); len(left) != 0 {
		t.Fatalf("notify sockets left behind: %v", left)
	}
}

// An application whose program does not exist fails the start, and what
// was started is stopped again.
func TestAppsStartFailsWhenAProgramIsMissing(t *testing.T) {
	a := &Apps{
		Config:       appsOf(t, appmon.Policy{}, []string{"sleep", "60"}, []string{filepath.Join(appDir(t), "nope")}),
		Socket:       "/run/test.sock",
		RunDir:       appDir(t),
		ReadyTimeout: time.Minute, // only the missing program can end the wait early
		Grace:        time.Second,
	}
	err := a.Start(context.Background())
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Start: %v, want a 'does not exist' error", err)
	}
	if n := a.Running(); n != 0 {
		t.Fatalf("%d applications still running after a failed start", n)
	}
}

// DORMANT mode: applications run only between Start and Stop; one that
// ignores SIGTERM is killed after the grace time.
func TestAppsStartStop(t *testing.T) {
	mark := filepath.Join(appDir(t), "env")
	a := &Apps{
		Config: appsOf(t, appmon.Policy{},
			[]string{"sh", "-c", `echo "$` + SocketEnv + `" > ` + mark + `; exec sleep 60`},
			[]string{"sh", "-c", `trap "" TERM; touch ` + mark + `.trap; while :; do sleep 0.05; done`},
		),
		Socket:       "/run/test.sock",
		RunDir:       appDir(t),
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
	for _, st := range a.Status() {
		pids = append(pids, st.PID)
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

// recorder is an AppReport that keeps what it is told.
type recorder struct {
	mu     sync.Mutex
	events []string
	failed []string
}

func (r *recorder) AppEvent(d, remarks string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, d+": "+remarks)
}

func (r *recorder) AppFailed(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, reason)
}

func (r *recorder) snapshot() ([]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events), slices.Clone(r.failed)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An application killed again and again is restarted each time and, at
// the policy's count within the window, reported failed once per count.
func TestAppsKilledRepeatedlyTripThePolicy(t *testing.T) {
	c := appsOf(t, appmon.Policy{MaxFailures: 3, Window: appmon.Duration(time.Minute)}, []string{"sleep", "600"})
	rec := &recorder{}
	a := &Apps{Config: c, Socket: "/run/test.sock", RunDir: appDir(t), ReadyTimeout: 100 * time.Millisecond, Grace: time.Second,
		Backoff: supervise.Backoff{Initial: 50 * time.Millisecond, Max: 50 * time.Millisecond}}
	a.SetReport(rec)
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(ctx) })
	for i := range 3 {
		var pid int
		waitUntil(t, "a live process", func() bool { pid = a.Status()[0].PID; return pid != 0 })
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the restart", func() bool { st := a.Status()[0]; return st.Restarts == i+1 && st.PID != 0 && st.PID != pid })
		if _, failed := rec.snapshot(); (len(failed) == 1) != (i == 2) {
			t.Fatalf("after kill %d: failed reports %q", i+1, failed)
		}
	}
	evs, failed := rec.snapshot()
	if !strings.Contains(failed[0], "app0: 3 failures within 1 minute (last: killed by killed)") {
		t.Errorf("reason %q", failed[0])
	}
	if n := len(slices.DeleteFunc(evs, func(e string) bool { return !strings.HasPrefix(e, MsgAppRestarted) })); n != 3 {
		t.Errorf("%d restart events, want 3: %q", n, evs)
	}
	if st := a.Status()[0]; st.Failures != 0 || st.State != "running" && st.State != "starting" {
		t.Errorf("status after the trip %+v (the count starts again)", st)
	}
}

// A health check that fails Fall times restarts the application (a hung
// one is killed) and counts; a hanging check command is bounded by its
// timeout; the check passing again is logged; Reset forgets failures and
// refuses unknown names.
func TestAppsHealthCheck(t *testing.T) {
	dir := appDir(t)
	sick := filepath.Join(dir, "sick")
	c := appsOf(t, appmon.Policy{MaxFailures: 2, Window: appmon.Duration(time.Minute)}, []string{"sleep", "600"})
	// Healthy unless the marker exists; "hang" in it makes the check hang.
	c.Applications[0].Check = &appmon.Check{Exec: []string{"/bin/sh", "-c", `test -e ` + sick + ` || exit 0; grep -q hang ` + sick + ` && sleep 600; exit 1`},
		Interval: appmon.Duration(200 * time.Millisecond), Timeout: appmon.Duration(150 * time.Millisecond), Rise: 1, Fall: 2}
	rec := &recorder{}
	a := &Apps{Config: c, Socket: "/run/test.sock", RunDir: appDir(t), ReadyTimeout: 100 * time.Millisecond, Grace: time.Second,
		Backoff: supervise.Backoff{Initial: 50 * time.Millisecond, Max: 50 * time.Millisecond}}
	a.SetReport(rec)
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(ctx) })
	waitUntil(t, "healthy", func() bool { return a.Status()[0].Health == "healthy" })
	pid := a.Status()[0].PID

	if err := os.WriteFile(sick, []byte("hang"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitUntil(t, "the hung check to fail", func() bool { _, f := rec.snapshot(); return a.Status()[0].Failures >= 1 || len(f) > 0 })
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("two hanging checks with a 150ms timeout took %s to fail", el)
	}
	waitUntil(t, "a restart for the failed check", func() bool { st := a.Status()[0]; return st.PID != 0 && st.PID != pid })
	if err := os.WriteFile(sick, []byte("fail"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the policy's verdict", func() bool { _, f := rec.snapshot(); return len(f) == 1 })
	_, failed := rec.snapshot()
	if !strings.Contains(failed[0], "health check failed 2 times") {
		t.Errorf("reason %q", failed[0])
	}
	os.Remove(sick)
	waitUntil(t, "healthy again", func() bool { return a.Status()[0].Health == "healthy" })
	evs, _ := rec.snapshot()
	if !slices.ContainsFunc(evs, func(e string) bool {
		return strings.HasPrefix(e, MsgAppCheckFailed+": app0: ") && strings.Contains(e, "no answer within the timeout")
	}) {
		t.Errorf("no event for the hanging check: %q", evs)
	}
	if err := a.Reset("nope"); !errors.Is(err, ErrUnknownApp) {
		t.Errorf("Reset(nope) = %v", err)
	}
	if err := a.Reset("app0"); err != nil || a.Status()[0].Failures != 0 {
		t.Errorf("Reset(app0) = %v, status %+v", err, a.Status()[0])
	}
}

// The status describes each kind of health check; an HTTP or TCP check
// once made the status (and with it hmd) panic.
func TestAppsStatusDescribesEveryCheck(t *testing.T) {
	c, err := appmon.Parse([]byte(`{"applications": [
		{"name": "web", "command": ["/bin/true"], "check": {"http": "http://127.0.0.1:8080/", "interval": "1s", "timeout": "500ms"}},
		{"name": "port", "command": ["/bin/true"], "check": {"tcp": "127.0.0.1:22", "interval": "1s", "timeout": "500ms"}},
		{"name": "script", "command": ["/bin/true"], "check": {"exec": ["/bin/true"], "interval": "1s", "timeout": "500ms"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a := &Apps{Config: c}
	want := []string{"GET http://127.0.0.1:8080/ every 1s", "connect 127.0.0.1:22 every 1s", "exec /bin/true every 1s"}
	st := a.Status()
	if len(st) != len(want) {
		t.Fatalf("status of %d applications, want %d", len(st), len(want))
	}
	for i, s := range st {
		if s.State != "dormant" || !strings.HasPrefix(s.Check, want[i]) {
			t.Errorf("%s: state %q, check %q; want dormant, %q…", s.Name, s.State, s.Check, want[i])
		}
	}
}

// Applications run as the application account, and see only their own
// variables and a few of hmd's (PATH, TZ,
// LANG, LC_ALL), not hmd's whole environment. Before, they inherited all
// of it.
func TestAppsGetACleanEnvironment(t *testing.T) {
	t.Setenv("HAFW_TEST_HMD_ONLY", "secret")
	out := filepath.Join(appDir(t), "env")
	a := &Apps{
		Config:       appsOf(t, appmon.Policy{}, []string{"/bin/sh", "-c", `{ env; echo "uid=$(id -u)"; } > "$0.tmp" && mv "$0.tmp" "$0"; exec sleep 60`, out}),
		Socket:       "/run/test.sock",
		RunDir:       appDir(t),
		ReadyTimeout: 500 * time.Millisecond,
		Grace:        time.Second,
	}
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(ctx) })
	var env []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var err error
		if env, err = os.ReadFile(out); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the application wrote no environment: %v", err)
		}
	}
	got := string(env)
	// Run as root (hmd on the appliance), the application drops to the
	// application account; unprivileged, it runs as the test does.
	wantUID := os.Geteuid()
	if wantUID == 0 {
		wantUID = appmon.AppUID
	}
	if !strings.Contains(got, fmt.Sprintf("uid=%d\n", wantUID)) {
		t.Errorf("the application does not run as UID %d:\n%s", wantUID, got)
	}
	if strings.Contains(got, "HAFW_TEST_HMD_ONLY") {
		t.Errorf("the application sees hmd's environment:\n%s", got)
	}
	for _, want := range []string{SocketEnv + "=/run/test.sock\n", "PATH=" + os.Getenv("PATH") + "\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("the application's environment lacks %q:\n%s", want, got)
		}
	}
}

// appDir is a temporary directory the applications can use: run as root,
// the tests start them as the application account (appmon.AppUID), which
// must reach their notify sockets and the files they write.
func appDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
