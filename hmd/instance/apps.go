package instance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/appmon"
	"github.com/hafw/hafw/internal/supervise"
)

// Descriptions of the events-log rows of application monitoring.
const (
	MsgAppRestarted   = "Application restarted"
	MsgAppCheckFailed = "Application health check failed; restarting it"
	MsgAppHealthy     = "Application health check passing"
)

// ErrUnknownApp is returned for an application name not in the
// applications file.
var ErrUnknownApp = errors.New("no such application")

// AppReport is where Apps reports to hmd: rows for the events log, and
// the policy's verdict that an application failed (the state machine's
// AppFailed).
type AppReport interface {
	AppEvent(description, remarks string)
	AppFailed(reason string)
}

// Apps runs the instance's applications on the active node and keeps them
// stopped on the standby (the seed's DORMANT mode). Each runs under
// internal/supervise (own process group, restart with backoff, killed
// with hmd), is health-checked while it runs, and its exits and failed
// checks are counted by appmon's policy.
//
// An application tells hmd that it serves with sd_notify READY=1 (as a
// systemd Type=notify service does), so that the node reports
// PRIMARY_ACTIVE or FAILOVER_ACTIVE only once clients can be served: a
// client that connects right after the state change must not be refused
// by a port nobody listens on yet.
type Apps struct {
	Config appmon.Config
	// Socket is the instance API, handed to each application as SocketEnv.
	Socket string
	// RunDir holds the applications' notify sockets.
	RunDir string
	// ReadyTimeout bounds the wait for an application's READY=1 (10 s
	// when zero); an application that never sends it is taken as ready
	// then, with a warning, so one that does not speak the protocol
	// delays serving but does not prevent it.
	ReadyTimeout time.Duration
	// Grace is how long a stop waits after SIGTERM before SIGKILL (5 s
	// when zero).
	Grace time.Duration
	// Backoff is the restart policy (1 s doubling up to 30 s when zero).
	Backoff supervise.Backoff
	Log     *slog.Logger

	// mu guards the running set; it is never held while a process is
	// stopped, because a stopping supervisor may be reporting an exit.
	mu      sync.Mutex
	report  AppReport
	sup     *supervise.Supervisor
	running []*app
	// state guards the trackers, read by the status at any time.
	state    sync.Mutex
	trackers map[string]*appmon.Tracker
	last     map[string]supervise.Status
}

type app struct {
	cfg       appmon.App
	svcMu     sync.Mutex
	svc       *supervise.Service
	stopCheck context.CancelFunc
	checkDone chan struct{}
}

func (a *app) service() *supervise.Service {
	a.svcMu.Lock()
	defer a.svcMu.Unlock()
	return a.svc
}

// SetReport makes r receive the events and verdicts from now on.
func (a *Apps) SetReport(r AppReport) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.report = r
}

func (a *Apps) reporter() AppReport {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.report
}

func (a *Apps) event(desc, remarks string) {
	a.logger().Info(desc, "remarks", remarks)
	if r := a.reporter(); r != nil {
		r.AppEvent(desc, remarks)
	}
}

// Start starts every application and returns once each has reported
// ready (or the ready timeout passed); it is idempotent while they run.
// An application whose program does not exist fails the start.
func (a *Apps) Start(ctx context.Context) error {
	a.mu.Lock()
	if a.running != nil {
		a.mu.Unlock()
		return nil
	}
	for _, c := range a.Config.Applications {
		if _, err := os.Stat(c.Command[0]); err != nil {
			a.mu.Unlock()
			return fmt.Errorf("application %s: %w", c.Name, err)
		}
	}
	backoff := a.Backoff
	if backoff.Initial == 0 {
		backoff = supervise.Backoff{Initial: time.Second, Max: 30 * time.Second, Stable: time.Duration(a.Config.Policy.Window)}
	}
	a.sup = &supervise.Supervisor{Starter: supervise.ExecStarter{}, Backoff: backoff, Output: os.Stderr, RunDir: a.RunDir, Log: a.logger()}
	a.state.Lock()
	a.trackers = map[string]*appmon.Tracker{}
	a.state.Unlock()
	running := []*app{}
	for _, c := range a.Config.Applications {
		p := &app{cfg: c}
		a.state.Lock()
		a.trackers[c.Name] = appmon.NewTracker(c, a.Config.Policy)
		a.state.Unlock()
		p.svc = a.sup.Start(context.Background(), a.spec(p))
		running = append(running, p)
	}
	a.running = running
	a.mu.Unlock()

	if err := a.awaitReady(ctx, running); err != nil {
		a.Stop(context.WithoutCancel(ctx))
		return err
	}
	for _, p := range running {
		a.startChecks(p)
	}
	return nil
}

// passEnv are the variables of hmd's environment its applications get;
// nothing else of it reaches them (it is not theirs to read, and they run
// whatever their configuration says).
var passEnv = []string{"PATH", "TZ", "LANG", "LC_ALL"}

// appEnviron is the applications' base environment: passEnv's variables
// that hmd has.
func appEnviron() []string {
	env := []string{}
	for _, k := range passEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func (a *Apps) spec(p *app) supervise.Spec {
	return supervise.Spec{
		Name: p.cfg.Name, Path: p.cfg.Command[0], Args: p.cfg.Command[1:],
		Environ:     appEnviron(),
		Env:         []string{SocketEnv + "=" + a.Socket},
		StopTimeout: a.grace(), DieWithParent: true, Watchdog: time.Duration(p.cfg.Watchdog),
		OnExit:     func(why string) { a.failed(p.cfg.Name, why, false) },
		Credential: p.cfg.Credential(),
	}
}

// failed counts one failure of app name and reports the policy's verdict.
func (a *Apps) failed(name, why string, check bool) {
	now := time.Now()
	a.state.Lock()
	tr := a.trackers[name]
	var (
		reason  string
		tripped bool
	)
	if tr != nil {
		if !check {
			tr.Exited(why, now)
		}
		reason, tripped = tr.Tripped(now)
	}
	a.state.Unlock()
	if !check {
		a.event(MsgAppRestarted, name+": "+why)
	}
	if tripped {
		a.logger().Warn("application failed", "reason", reason)
		if r := a.reporter(); r != nil {
			r.AppFailed(reason)
		}
	}
}

// awaitReady waits, for all applications at once, until each has sent
// READY=1 or the ready timeout has passed.
func (a *Apps) awaitReady(ctx context.Context, running []*app) error {
	timeout := a.ReadyTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for _, p := range running {
		svc := p.service()
		select {
		case <-svc.Ready():
		case <-svc.Done():
		case <-deadline.C:
			a.logger().Warn("application did not report ready (sd_notify READY=1); serving anyway", "app", p.cfg.Name)
			return nil
		case <-ctx.Done():
			return fmt.Errorf("waiting for the applications to be ready: %w", ctx.Err())
		}
	}
	return nil
}

// startChecks runs p's health check every interval while it runs.
func (a *Apps) startChecks(p *app) {
	k := p.cfg.Check
	if k == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.stopCheck, p.checkDone = cancel, make(chan struct{})
	checker := appmon.NewChecker(*k, appmon.Process{Credential: p.cfg.Credential(), Env: appEnviron()})
	go func() {
		defer close(p.checkDone)
		t := time.NewTicker(time.Duration(k.Interval))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// A process that is (re)starting or backing off is not
			// checked: its exit was counted already.
			if st := p.service().Status(); st.State != supervise.Running && st.State != supervise.Starting {
				continue
			}
			cctx, ccancel := context.WithTimeout(ctx, time.Duration(k.Timeout))
			err := checker.Check(cctx)
			ccancel()
			if ctx.Err() != nil {
				return
			}
			a.checked(ctx, p, err)
		}
	}()
}

// checked records one check result; a fall to unhealthy restarts the
// application (a hung process is killed) and counts as a failure.
func (a *Apps) checked(ctx context.Context, p *app, err error) {
	a.state.Lock()
	tr := a.trackers[p.cfg.Name]
	fell, rose := tr.CheckResult(err, time.Now())
	if fell {
		tr.Restarted()
	}
	a.state.Unlock()
	switch {
	case rose:
		a.event(MsgAppHealthy, p.cfg.Name)
	case fell:
		a.event(MsgAppCheckFailed, p.cfg.Name+": "+err.Error())
		a.failed(p.cfg.Name, err.Error(), true)
		old := p.service()
		old.Stop()
		if ctx.Err() != nil {
			return // the applications are being stopped
		}
		svc := a.sup.Start(context.Background(), a.spec(p))
		p.svcMu.Lock()
		p.svc = svc
		p.svcMu.Unlock()
	}
}

// Stop stops every application: SIGTERM to its group, SIGKILL after Grace.
func (a *Apps) Stop(ctx context.Context) error {
	a.mu.Lock()
	running := a.running
	a.running = nil
	a.mu.Unlock()
	for _, p := range running {
		if p.stopCheck != nil {
			p.stopCheck()
			<-p.checkDone
		}
	}
	var wg sync.WaitGroup
	for _, p := range running {
		wg.Go(func() { p.service().Stop() })
	}
	wg.Wait()
	a.state.Lock()
	a.last = map[string]supervise.Status{}
	for _, p := range running {
		a.last[p.cfg.Name] = p.service().Status()
	}
	a.state.Unlock()
	return nil
}

// Running reports how many applications have a live process.
func (a *Apps) Running() int {
	a.mu.Lock()
	running := a.running
	a.mu.Unlock()
	n := 0
	for _, p := range running {
		if p.service().Status().PID != 0 {
			n++
		}
	}
	return n
}

// Status describes every application: running ones from the supervisor,
// the others as dormant (with what their last run left).
func (a *Apps) Status() []api.AppStatus {
	a.mu.Lock()
	running := slices.Clone(a.running)
	a.mu.Unlock()
	now := time.Now()
	out := make([]api.AppStatus, 0, len(a.Config.Applications))
	for _, c := range a.Config.Applications {
		s := api.AppStatus{Name: c.Name, State: "dormant", MaxFailures: a.Config.Policy.MaxFailures}
		a.state.Lock()
		if st, ok := a.last[c.Name]; ok {
			s.Restarts, s.LastExit = st.Restarts, st.LastExit
		}
		if tr := a.trackers[c.Name]; tr != nil {
			ts := tr.State(now)
			s.Failures, s.LastFailure, s.LastCheck = ts.Failures, ts.LastFailure, ts.LastCheck
			if c.Check != nil {
				s.Health = string(ts.Health)
			}
		}
		a.state.Unlock()
		if c.Check != nil {
			s.Check = describeCheck(*c.Check)
		}
		for _, p := range running {
			if p.cfg.Name == c.Name {
				st := p.service().Status()
				s.State, s.PID, s.Restarts, s.LastExit = string(st.State), st.PID, st.Restarts, st.LastExit
			}
		}
		out = append(out, s)
	}
	return out
}

func describeCheck(k appmon.Check) string {
	var what string
	switch {
	case k.HTTP != "":
		what = "GET " + k.HTTP
	case k.TCP != "":
		what = "connect " + k.TCP
	default:
		what = "exec " + k.Exec[0]
	}
	return fmt.Sprintf("%s every %s (timeout %s, rise %d, fall %d)", what, time.Duration(k.Interval), time.Duration(k.Timeout), k.Rise, k.Fall)
}

// Reset forgets the failures of application name (every one when name is
// empty); ErrUnknownApp when there is no such application.
func (a *Apps) Reset(name string) error {
	if name != "" && !slices.ContainsFunc(a.Config.Applications, func(c appmon.App) bool { return c.Name == name }) {
		return fmt.Errorf("%w %q", ErrUnknownApp, name)
	}
	a.state.Lock()
	defer a.state.Unlock()
	for n, tr := range a.trackers {
		if name == "" || n == name {
			tr.Reset()
		}
	}
	return nil
}

func (a *Apps) grace() time.Duration {
	if a.Grace <= 0 {
		return 5 * time.Second
	}
	return a.Grace
}

func (a *Apps) logger() *slog.Logger {
	if a.Log == nil {
		return slog.Default()
	}
	return a.Log
}
