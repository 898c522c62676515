package hmdtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/appmon"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/hmd/instance"
	"github.com/hafw/hafw/internal/testenv"
)

// The application-monitoring tests run the tracker as a checked
// application on both nodes of a replicated pair and break it on the
// node that serves: the policy must hand the service to the peer while a
// client keeps writing through the VIP, and a flapping application must
// not bounce the service between the nodes.

// trackerApps is an applications file running the tracker with check
// (none when nil) under policy.
func trackerApps(t *testing.T, check map[string]any, policy map[string]any) string {
	t.Helper()
	app := map[string]any{"name": "tracker", "command": []string{binaryPath(t, "tracker"), "--listen", ":8080"}}
	if check != nil {
		app["check"] = check
	}
	b, err := json.Marshal(map[string]any{"applications": []any{app}, "policy": policy})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// appPair is replicatedPair with apps as both nodes' applications file.
func appPair(t *testing.T, subnet, apps string) (l *lan, p, s *node) {
	l, p, s = newPair(t, subnet, func(_ *lan, p, s *node) {
		p.withApps(apps)
		s.withApps(apps)
	})
	waitTrue(t, 20*time.Second, "data replication Up on the primary", func() bool { return p.replication() == "Up" })
	return l, p, s
}

// app is n's status of its only application.
func (n *node) app() api.AppStatus {
	n.t.Helper()
	st := n.status()
	if len(st.Applications) != 1 {
		n.t.Fatalf("%s reports %d applications, want 1", n.name, len(st.Applications))
	}
	return st.Applications[0]
}

// waitAppRunning waits until n's application runs in a process other
// than old (and is healthy, when healthy is set) and returns its PID.
func (n *node) waitAppRunning(old int, healthy bool, timeout time.Duration) int {
	n.t.Helper()
	var a api.AppStatus
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		a = n.app()
		if a.State == "running" && a.PID != 0 && a.PID != old && (!healthy || a.Health == "healthy") {
			return a.PID
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.t.Fatalf("%s's application never ran again (last %+v); hmd output:\n%s", n.name, a, n.proc.Output())
	return 0
}

// countEvents counts n's events whose description starts with one of
// prefixes.
func (n *node) countEvents(prefixes ...string) int {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	evs, err := n.api().Events(ctx, "", 1000)
	if err != nil {
		n.t.Fatalf("%s events: %v", n.name, err)
	}
	c := 0
	for _, e := range evs {
		for _, p := range prefixes {
			if strings.HasPrefix(e.Description, p) {
				c++
				break
			}
		}
	}
	return c
}

// firstAckAfter waits until the writer has a write acknowledged after t0
// and returns how long after t0 that was.
func (w *writer) firstAckAfter(t *testing.T, t0 time.Time, timeout time.Duration) time.Duration {
	t.Helper()
	var d time.Duration
	waitTrue(t, timeout, "a write acknowledged after the application failed", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		d = w.lastAck.Sub(t0)
		return d > 0
	})
	return d
}

// handedOver checks what every hand-over test ends with: the secondary
// serves (FAILOVER_ACTIVE, VIP, application running), the primary holds
// no VIP, runs no application and says why it gave the service away.
func handedOver(t *testing.T, l *lan, p, s *node) {
	t.Helper()
	s.waitState(0, "FAILOVER_ACTIVE", 30*time.Second)
	vip := l.addr(10)
	waitTrue(t, 10*time.Second, "the VIP on the secondary only", func() bool { return s.hasAddr(vip) && !p.hasAddr(vip) })
	s.waitAppRunning(0, false, 30*time.Second)
	if a := p.app(); a.State != "dormant" {
		t.Errorf("the primary's application is %q after the hand-over, want dormant", a.State)
	}
	if n := p.countEvents(ha.MsgAppFailover); n != 1 {
		t.Errorf("the primary logged %q %d times, want once", ha.MsgAppFailover, n)
	}
	if got := field(s.gethainfo(), "Application state"); len(got) != 1 || !strings.HasPrefix(got[0], "running (pid ") {
		t.Errorf("the secondary's gethainfo shows the application as %q, want running", got)
	}
	if st := s.status(); len(st.Peers) != 1 || !st.Peers[0].PeerDegraded {
		t.Errorf("the secondary does not see the primary degraded: %+v", st.Peers)
	}
}

// runWriter starts w writing until the test ends; the returned function
// stops it and waits.
func runWriter(w *writer) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() { defer close(done); w.run(quit) }()
	var once sync.Once
	return func() { once.Do(func() { close(quit); <-done }) }
}

// TestAppKilledRepeatedlyFailsOver: the tracker on the primary is killed
// (kill -9) three times; the supervisor restarts it twice, the third
// failure within the policy's window hands the service to the
// synchronized secondary. The client's writes go on through the VIP and
// every acknowledged write is on the node that now serves.
func TestAppKilledRepeatedlyFailsOver(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l, p, s := appPair(t, "10.226.0", trackerApps(t, nil, map[string]any{"max_failures": 3, "window": "5m", "hold_down": "10m"}))
	w := newWriter(l, l.addr(10))
	w.waitServing(t, 20*time.Second)
	stop := runWriter(w)
	defer stop()

	pid := 0
	var killed time.Time
	for i := range 3 {
		pid = p.waitAppRunning(pid, false, 30*time.Second)
		if i == 0 {
			// hmd is root; the tracker runs as the application account.
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			want := fmt.Sprintf("\nUid:\t%d\t%d\t%d\t%d\n", appmon.AppUID, appmon.AppUID, appmon.AppUID, appmon.AppUID)
			if err != nil || !strings.Contains(string(status), want) {
				t.Errorf("the tracker (pid %d) does not run as UID %d: %v\n%s", pid, appmon.AppUID, err, status)
			}
		}
		before := w.ackedCount()
		waitTrue(t, 30*time.Second, "writes acknowledged by the primary's tracker", func() bool { return w.ackedCount() > before })
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", pid, err)
		}
		killed = time.Now()
		t.Logf("kill %d: the primary's tracker (pid %d) after %d acknowledged writes", i+1, pid, w.ackedCount())
	}
	handedOver(t, l, p, s)
	outage := w.firstAckAfter(t, killed, 30*time.Second)
	before := w.ackedCount()
	waitTrue(t, 30*time.Second, "writes acknowledged by the secondary", func() bool { return w.ackedCount() > before+20 })
	stop()
	present := w.verify(t)
	t.Logf("hand-over after the third kill: first acknowledged write on the secondary %v later; %d writes tried, %d acknowledged, %d present, none lost",
		outage.Round(time.Millisecond), len(w.tried), w.ackedCount(), present)
	if n := p.app().Restarts; n < 2 {
		t.Errorf("the primary's supervisor restarted the tracker %d times before the hand-over, want 2", n)
	}
}

// TestAppHealthCheckFailsOver: the primary's tracker hangs (SIGSTOP: the
// process lives, only its HTTP health check can tell). Each hang is
// detected by the check and the process killed and restarted; the second
// failure hands the service to the secondary, with writes going on.
func TestAppHealthCheckFailsOver(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	check := map[string]any{"http": "http://127.0.0.1:8080/v1/elements", "interval": "1s", "timeout": "900ms", "rise": 1, "fall": 3}
	l, p, s := appPair(t, "10.227.0", trackerApps(t, check, map[string]any{"max_failures": 2, "window": "5m", "hold_down": "10m"}))
	w := newWriter(l, l.addr(10))
	w.waitServing(t, 20*time.Second)
	stop := runWriter(w)
	defer stop()

	pid := 0
	var hung time.Time
	for i := 0; p.app().State != "dormant"; i++ {
		if i == 4 {
			t.Fatalf("four hangs did not trip the policy: %+v", p.app())
		}
		pid = p.waitAppRunning(pid, true, 60*time.Second)
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatalf("stop %d: %v", pid, err)
		}
		hung = time.Now()
		t.Logf("hang %d: the primary's tracker (pid %d) stopped after %d acknowledged writes", i+1, pid, w.ackedCount())
		// The check notices, the hung process is killed and restarted
		// (or the service handed over).
		waitTrue(t, 60*time.Second, "the hung tracker to be replaced", func() bool {
			a := p.app()
			return a.PID != pid || a.State != "running"
		})
	}
	handedOver(t, l, p, s)
	if n := p.countEvents(instance.MsgAppCheckFailed); n < 2 {
		t.Errorf("the primary logged %q %d times, want at least 2", instance.MsgAppCheckFailed, n)
	}
	outage := w.firstAckAfter(t, hung, 60*time.Second)
	before := w.ackedCount()
	waitTrue(t, 30*time.Second, "writes acknowledged by the secondary", func() bool { return w.ackedCount() > before+20 })
	stop()
	present := w.verify(t)
	t.Logf("hand-over after the second hang: first acknowledged write on the secondary %v after the hang; %d acknowledged, %d present, none lost",
		outage.Round(time.Millisecond), w.ackedCount(), present)
}

// TestAppFlappingDoesNotPingPong: the health check of both nodes flaps
// (a shared marker file appears and disappears). The primary's policy
// trips and the service moves to the secondary once; the secondary's
// trips too, but the primary is held down (degraded), so the service
// stays: over a bounded time the owner of the VIP changes exactly once.
func TestAppFlappingDoesNotPingPong(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	sick := filepath.Join(appReachable(t, t.TempDir()), "sick")
	check := map[string]any{"exec": []string{"/bin/sh", "-c", "test ! -e " + sick}, "interval": "1s", "timeout": "900ms", "rise": 1, "fall": 1}
	l, p, s := appPair(t, "10.228.0", trackerApps(t, check, map[string]any{"max_failures": 2, "window": "1m", "hold_down": "10m"}))
	vip := l.addr(10)
	w := newWriter(l, vip)
	w.waitServing(t, 20*time.Second)
	stop := runWriter(w)
	defer stop()

	// The owner of the VIP, sampled every 100 ms.
	type sample struct {
		at    time.Time
		owner string
	}
	var (
		mu      sync.Mutex
		samples []sample
	)
	quit, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-quit:
				return
			case <-time.After(100 * time.Millisecond):
			}
			var owner string
			switch hp, hs := p.hasAddr(vip), s.hasAddr(vip); {
			case hp && hs:
				owner = "both"
			case hp:
				owner = p.name
			case hs:
				owner = s.name
			}
			mu.Lock()
			samples = append(samples, sample{time.Now(), owner})
			mu.Unlock()
		}
	}()
	flapQuit, flapped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(flapped)
		for on := true; ; on = !on {
			if on {
				os.WriteFile(sick, nil, 0o644)
			} else {
				os.Remove(sick)
			}
			select {
			case <-flapQuit:
				os.Remove(sick)
				return
			case <-time.After(2500 * time.Millisecond):
			}
		}
	}()
	defer func() {
		select {
		case <-flapQuit:
		default:
			close(flapQuit)
		}
		<-flapped
	}()

	start := time.Now()
	handedOver(t, l, p, s)
	moved := time.Since(start)
	// The secondary's application flaps as well: its policy trips, and
	// the degraded primary is not handed the service back.
	waitTrue(t, 90*time.Second, "the secondary's policy to trip and keep the service", func() bool { return s.countEvents(ha.MsgAppKept) > 0 })
	const more = 20 * time.Second
	time.Sleep(more)
	close(flapQuit)
	<-flapped
	close(quit)
	<-sampled

	changes, both := 0, 0
	last := ""
	for _, x := range samples {
		switch {
		case x.owner == "both":
			both++
		case x.owner != "" && last != "" && x.owner != last:
			changes++
		}
		if x.owner != "" && x.owner != "both" {
			last = x.owner
		}
	}
	handovers := p.countEvents(ha.MsgAppFailover, ha.MsgAppFailback) + s.countEvents(ha.MsgAppFailover, ha.MsgAppFailback)
	kept := s.countEvents(ha.MsgAppKept)
	elapsed := time.Since(start).Round(time.Second)
	t.Logf("flapping for %v: %d VIP owner changes in %d samples (first after %v), %d hand-overs, the secondary kept the service %d times, %d samples with two owners",
		elapsed, changes, len(samples), moved.Round(time.Millisecond), handovers, kept, both)
	if changes != 1 || handovers != 1 || both != 0 {
		t.Errorf("the service moved %d times (%d hand-over events, %d samples with two owners) in %v of flapping, want exactly once", changes, handovers, both, elapsed)
	}
	if last != s.name {
		t.Errorf("the service ended on %q, want the secondary", last)
	}
	stop()
	w.verify(t)
}
