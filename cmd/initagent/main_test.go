package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/hafw/hafw/board"
	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/initagent"
	"github.com/hafw/hafw/internal/supervise"
	"github.com/hafw/hafw/licensing"
)

// The test binary plays two parts besides running tests: the init agent
// itself (HAFW_TEST_AGENT=1, not as PID 1) and, when started through a
// symlink named hmd, a fake hmd that crashes on its first start, then
// reports READY=1 and shuts down gracefully on SIGTERM.
func TestMain(m *testing.M) {
	switch {
	case filepath.Base(os.Args[0]) == "hmd":
		os.Exit(fakeHMD(os.Getenv("HAFW_TEST_DIR")))
	case os.Getenv("HAFW_TEST_AGENT") == "1":
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func fakeHMD(dir string) int {
	mark := func(name string) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintln(f, strings.Join(os.Args[1:], " "))
			f.Close()
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "hmd-started")); err != nil {
		mark("hmd-started")
		fmt.Println("fake hmd: crashing on first start")
		return 1
	}
	mark("hmd-started")
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	fmt.Println("fake hmd: up")
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		fmt.Println("fake hmd: notify:", err)
		return 1
	}
	<-term
	fmt.Println("fake hmd: GRACEFUL_SHUTDOWN")
	mark("hmd-graceful")
	return 0
}

// lines collects the agent's stdout and lets the test wait for a line.
type lines struct {
	mu  sync.Mutex
	all []string
}

func (l *lines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, s)
}

func (l *lines) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.all...)
}

// waitFor waits for the first line at or after index from that starts
// with prefix, and returns it with its index.
func (l *lines) waitFor(t *testing.T, from int, prefix string) (string, int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for i, s := range l.snapshot() {
			if i >= from && strings.HasPrefix(s, prefix) {
				return s, i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no line starting %q; output:\n%s", prefix, strings.Join(l.snapshot(), "\n"))
	return "", 0
}

func countLines(t *testing.T, path string) int {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}

// applianceRoot is a directory tree standing in for the appliance's
// /etc/hafw, /data, /run/hafw and /bin (with the fake hmd), plus a kernel
// command line file.
type applianceRoot struct {
	self                     string // this test binary
	dir, etc, data, run, bin string
}

func newApplianceRoot(t *testing.T, cmdline string) applianceRoot {
	t.Helper()
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := applianceRoot{self: self, dir: dir, etc: filepath.Join(dir, "etc"), data: filepath.Join(dir, "data"),
		run: filepath.Join(dir, "run"), bin: filepath.Join(dir, "bin")}
	for _, d := range []string{r.etc, r.data, r.run, r.bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(self, filepath.Join(r.bin, "hmd")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cmdline"), []byte(cmdline), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.etc, "profile"), []byte("VA-Low\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// args are the agent's flags for this root.
func (r applianceRoot) args(extra ...string) []string {
	return append([]string{"-cmdline", filepath.Join(r.dir, "cmdline"), "-etc", r.etc, "-data", r.data, "-run", r.run, "-bin", r.bin}, extra...)
}

// agentProc is the agent running as a child of the test.
type agentProc struct {
	cmd  *exec.Cmd
	out  lines
	done chan struct{}
	err  error
}

// startAgent runs the agent on root, stopping it with SIGTERM when the
// test ends (so that it stops the fake hmd).
func startAgent(t *testing.T, root applianceRoot, env ...string) *agentProc {
	t.Helper()
	a := &agentProc{cmd: exec.Command(root.self, root.args()...), done: make(chan struct{})}
	a.cmd.Env = append(append(os.Environ(), "HAFW_TEST_AGENT=1", "HAFW_TEST_DIR="+root.dir, "NOTIFY_SOCKET="), env...)
	out, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	a.cmd.Stderr = os.Stderr
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			a.out.add(sc.Text())
		}
		a.err = a.cmd.Wait()
		close(a.done)
	}()
	t.Cleanup(func() {
		a.cmd.Process.Signal(syscall.SIGTERM)
		if a.wait(10*time.Second) == errStillRunning {
			a.cmd.Process.Kill()
			<-a.done
		}
	})
	return a
}

var errStillRunning = errors.New("agent still running")

// wait waits up to d for the agent to exit and returns its exit error.
func (a *agentProc) wait(d time.Duration) error {
	select {
	case <-a.done:
		return a.err
	case <-time.After(d):
		return errStillRunning
	}
}

// TestUnconfiguredAgentRunsHMDWithNoRole: with no stored configuration and
// no first-boot keys the appliance still comes up — hmd runs on the
// default configuration (role none) written to the runtime directory,
// nothing is stored on /data, and the console says to run setup.
func TestUnconfiguredAgentRunsHMDWithNoRole(t *testing.T) {
	root := newApplianceRoot(t, "console=ttyS0\n")
	agent := startAgent(t, root)
	ready, _ := agent.out.waitFor(t, 0, "hafw-ready:")
	if want := "hafw-ready: host=mse profile=VA-Low role=none eth0=down eth1=none license=not-activated"; ready != want {
		t.Errorf("ready line %q, want %q", ready, want)
	}
	agent.out.waitFor(t, 0, "hafw-init: this appliance is not configured: run setup")
	runCfg := filepath.Join(root.run, "unconfigured-appliance.json")
	args, _ := os.ReadFile(filepath.Join(root.dir, "hmd-started"))
	if !strings.Contains(string(args), "--config "+runCfg) {
		t.Errorf("hmd args %q lack --config %s", args, runCfg)
	}
	if cfg, err := config.Load(runCfg); err != nil || cfg.Role != config.RoleNone {
		t.Errorf("hmd's configuration %+v, %v", cfg, err)
	}
	if _, err := os.Stat(config.Layout{Root: root.data}.ConfigFile()); !os.IsNotExist(err) {
		t.Errorf("an unconfigured boot stored a configuration on /data: %v", err)
	}
}

// TestAgentSupervisesHMDAndShutsDownInOrder runs the real agent binary as
// a systemd-style service on this machine: first-boot configuration from a
// kernel command line file, an activation license, a fake hmd that crashes
// once (restarted with backoff) and then reports ready; the ready line
// follows hmd's readiness; msed's control calls stop and start hmd; and
// SIGTERM stops hmd gracefully before the agent exits.
func TestAgentSupervisesHMDAndShutsDownInOrder(t *testing.T) {
	cmdline := "console=ttyS0 hafw.hostname=mse-test hafw.role=primary hafw.eth0=10.210.0.5/24 hafw.vip=10.210.0.9/24 hafw.tz=UTC\n"
	root := newApplianceRoot(t, cmdline)
	dir, etc, data, run := root.dir, root.etc, root.data, root.run
	// A vendor key and an activation license for the UDI this machine gets.
	pub, priv, err := licensing.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := licensing.WritePublicKey(filepath.Join(etc, "vendor.pub"), pub); err != nil {
		t.Fatal(err)
	}
	pl, err := board.Detect(board.System{}, "mse-test", "VA-Low")
	if err != nil {
		t.Fatal(err)
	}
	lic, err := licensing.Issue(priv, licensing.License{Feature: licensing.Activation, Count: 1, UDI: pl.UDI, Issued: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	store := licensing.Store{Dir: config.Layout{Root: data}.LicenseDir(), Pub: pub, UDI: pl.UDI}
	if err := os.MkdirAll(store.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Install(lic); err != nil {
		t.Fatal(err)
	}

	// The test is systemd: it receives the agent's sd_notify messages.
	notifyPath := filepath.Join(dir, "notify.sock")
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	notes := make(chan string, 16)
	go func() {
		buf := make([]byte, 512)
		for {
			n, err := notify.Read(buf)
			if err != nil {
				close(notes)
				return
			}
			notes <- string(buf[:n])
		}
	}()

	agent := startAgent(t, root, "NOTIFY_SOCKET="+notifyPath)
	cmd, got := agent.cmd, &agent.out

	ready, readyAt := got.waitFor(t, 0, "hafw-ready:")
	const want = "hafw-ready: host=mse-test profile=VA-Low role=primary eth0=down eth1=none license=activated"
	if ready != want {
		t.Errorf("ready line\n got %q\nwant %q", ready, want)
	}
	_, crashAt := got.waitFor(t, 0, "[hmd] supervisor: exited with status 1; restarting in 1s (failure 1)")
	_, hmdReadyAt := got.waitFor(t, 0, "[hmd] supervisor: ready")
	if !(crashAt < hmdReadyAt && hmdReadyAt < readyAt) {
		t.Errorf("order: crash at line %d, hmd ready at %d, ready line at %d; want crash < hmd ready < ready line", crashAt, hmdReadyAt, readyAt)
	}
	// The first-boot configuration was stored (atomically, by config.Save).
	stored, err := config.Load(config.Layout{Root: data}.ConfigFile())
	if err != nil || stored.Hostname != "mse-test" || stored.Role != config.RolePrimary {
		t.Errorf("stored configuration %+v, %v", stored, err)
	}
	// hmd got the contract's flags.
	args, _ := os.ReadFile(filepath.Join(dir, "hmd-started"))
	for _, flag := range []string{"--config " + config.Layout{Root: data}.ConfigFile(), "--state-dir ", "--socket " + filepath.Join(run, "hmd.sock"), "--cmdline "} {
		if !strings.Contains(string(args), flag) {
			t.Errorf("hmd args %q lack %q", args, flag)
		}
	}

	// msed stop / status / start through the control socket.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ctl := initagent.ControlClient{Socket: filepath.Join(run, "initagent.sock")}
	st, err := ctl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Services) != 1 || st.Services[0].State != supervise.Running || st.Services[0].Restarts != 1 || !st.ServicesRunning() {
		b, _ := json.Marshal(st.Services)
		t.Errorf("services before stop: %s", b)
	}
	if st, err = ctl.Stop(ctx); err != nil || st.ServicesRunning() {
		t.Errorf("stop: %v, running=%v", err, st.ServicesRunning())
	}
	if n := countLines(t, filepath.Join(dir, "hmd-graceful")); n != 1 {
		t.Errorf("graceful hmd stops after msed stop = %d, want 1", n)
	}
	if st, err = ctl.Start(ctx); err != nil || !st.ServicesRunning() || st.Services[0].State != supervise.Running {
		t.Errorf("start: %v, services %+v", err, st.Services)
	}

	// setup's apply: a changed stored configuration is reloaded without a
	// reboot — hmd restarts and a new ready line reports the new hostname.
	// A virtual appliance's UDI contains its hostname, so the activation
	// license no longer matches and the primary role is given up.
	stored.Hostname = "mse-renamed"
	if err := config.Save(config.Layout{Root: data}.ConfigFile(), stored); err != nil {
		t.Fatal(err)
	}
	if st, err = ctl.Reload(ctx); err != nil || st.Hostname != "mse-renamed" || !st.ServicesRunning() {
		t.Errorf("reload: %v, status %+v", err, st)
	}
	if ready, _ := got.waitFor(t, readyAt+1, "hafw-ready:"); ready != "hafw-ready: host=mse-renamed profile=VA-Low role=none eth0=down eth1=none license=not-activated" {
		t.Errorf("ready line after reload %q", ready)
	}
	if n := countLines(t, filepath.Join(dir, "hmd-graceful")); n != 2 {
		t.Errorf("graceful hmd stops after reload = %d, want 2", n)
	}

	// SIGTERM: orderly shutdown, hmd stopped gracefully, agent exits 0.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := agent.wait(60 * time.Second); err != nil {
		t.Errorf("agent exit: %v", err)
	}
	if n := countLines(t, filepath.Join(dir, "hmd-graceful")); n != 3 {
		t.Errorf("graceful hmd stops = %d, want 3", n)
	}
	_, termAt := got.waitFor(t, 0, "hafw-init: terminated received, shutting down")
	_, gracefulAt := got.waitFor(t, termAt, "[hmd] fake hmd: GRACEFUL_SHUTDOWN")
	_, stoppedAt := got.waitFor(t, termAt, "hafw-init: stopped")
	if !(termAt < gracefulAt && gracefulAt < stoppedAt) {
		t.Errorf("shutdown order: signal %d, hmd graceful %d, agent stopped %d", termAt, gracefulAt, stoppedAt)
	}
	notify.Close()
	var said []string
	for n := range notes {
		said = append(said, n)
	}
	if !slices.Equal(said, []string{"READY=1", "STOPPING=1"}) {
		t.Errorf("sd_notify messages %q, want READY=1 then STOPPING=1", said)
	}
	if _, err := os.Stat(filepath.Join(run, "initagent.sock")); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}
}

// statusOnly is an hmd API backend that answers only the status.
type statusOnly struct {
	api.Backend
	st api.Status
}

func (s statusOnly) Status(context.Context) (api.Status, error) { return s.st, nil }

// TestHMDClientReadsTheLocalAPI: the init agent's status questions go to
// hmd's local API socket and come back as what the agent reads.
func TestHMDClientReadsTheLocalAPI(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "hmd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	st := api.Status{Running: true, Role: "secondary", State: "SECONDARY_ACTIVE",
		Peers: []api.PeerStatus{{HealthMonitorIP: "10.201.0.2", Profile: "VA-Low"}, {HealthMonitorIP: "10.201.0.4"}}}
	srv := &http.Server{Handler: api.NewHandler(statusOnly{st: st}, api.Local{}, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	got, err := hmdClient{api.NewUnixClient(sock)}.Status(context.Background())
	want := initagent.HMDStatus{Running: true, Role: config.RoleSecondary, State: "SECONDARY_ACTIVE", PeerProfiles: []string{"VA-Low", ""}}
	if err != nil || got.Running != want.Running || got.Role != want.Role || got.State != want.State || !slices.Equal(got.PeerProfiles, want.PeerProfiles) {
		t.Fatalf("status %+v %v, want %+v", got, err, want)
	}
	srv.Close()
	if _, err := (hmdClient{api.NewUnixClient(sock)}).Status(context.Background()); err == nil {
		t.Fatal("no error with hmd gone")
	}
}
