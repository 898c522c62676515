// Package supervise runs supervised children: each in its own process
// group, restarted with capped exponential backoff unless it exits with
// ExitNoRestart, its output copied to a writer and a ring buffer, its
// readiness and liveness taken from the systemd notify protocol
// (NOTIFY_SOCKET: READY=1, and WATCHDOG=1 when given WATCHDOG_USEC), so the
// same binary works under systemd and under hafw's two supervisors: the
// init agent (PID 1, which runs hmd) and hmd (which runs the service
// instance's applications on the serving node). One implementation serves
// both, so a fix to restart or stop behaviour reaches every child.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hafw/hafw/internal/sdnotify"
	"golang.org/x/sys/unix"
)

// ExitNoRestart (EX_CONFIG) is the exit code by which a child says that
// restarting it cannot help (bad configuration); it stays stopped.
const ExitNoRestart = 78

// Spec describes one supervised program.
type Spec struct {
	Name string
	Path string
	Args []string
	// Environ is the child's environment before Env; nil means the
	// supervisor's own.
	Environ []string
	// Env is added to the environment.
	Env []string
	// StopTimeout is how long a SIGTERM'd child may take before SIGKILL.
	StopTimeout time.Duration
	// DieWithParent kills the child (SIGKILL) when the supervisor's
	// process dies, even by kill -9: hmd's applications must not keep
	// serving on a node whose health monitor is gone.
	DieWithParent bool
	// Watchdog, when set, is handed to the child as WATCHDOG_USEC; once
	// the child is ready, a period without WATCHDOG=1 counts as a hang:
	// the child is killed and restarted like a crash.
	Watchdog time.Duration
	// OnExit, when set, is told every unexpected end of the child (crash,
	// watchdog, failed start) with its description, before the backoff.
	OnExit func(why string)
	// Credential, when set, is the user the child runs as; its notify
	// socket is then owned by that user, so it can still say READY.
	Credential *syscall.Credential
}

// State is a supervised program's lifecycle state.
type State string

// States as `msed status` shows them.
const (
	Starting   State = "starting" // started, READY=1 not yet received
	Running    State = "running"  // READY=1 received
	BackingOff State = "backoff"  // crashed, waiting to restart
	Stopping   State = "stopping"
	Stopped    State = "stopped"   // stopped on request
	Failed     State = "failed"    // exited with ExitNoRestart
	NotExists  State = "not-found" // the binary is not in the image
)

// Status is a snapshot of one supervised program.
type Status struct {
	Name     string    `json:"name"`
	State    State     `json:"state"`
	PID      int       `json:"pid,omitempty"`
	Restarts int       `json:"restarts"`
	LastExit string    `json:"last_exit,omitempty"`
	Since    time.Time `json:"since"`
	// Started is when the current (or last) process started.
	Started time.Time `json:"started,omitzero"`
}

// Supervisor owns the children. Its fields are the seams: the Starter that
// starts children and collects their exit statuses (the Reaper in PID 1,
// ExecStarter elsewhere), where output goes, where notify sockets live.
type Supervisor struct {
	Starter Starter
	Backoff Backoff
	// Output receives every child line, prefixed with the child's name
	// (the console, and the agent's log); nil discards it.
	Output io.Writer
	Ring   *Ring
	// RunDir holds the per-child notify sockets.
	RunDir string
	Log    *slog.Logger

	mu       sync.Mutex
	services map[string]*Service
}

// Service is one supervised program.
type Service struct {
	spec Spec
	sup  *Supervisor

	mu        sync.Mutex
	status    Status
	ready     chan struct{} // closed on the first READY=1 since Start
	readyOnce sync.Once
	stop      chan struct{} // closed by Stop
	done      chan struct{} // closed when the supervision loop ended
}

// Start begins supervising spec; it returns at once. Starting a name that
// is already supervised and not stopped returns the existing Service.
func (s *Supervisor) Start(ctx context.Context, spec Spec) *Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.services == nil {
		s.services = map[string]*Service{}
	}
	if svc, ok := s.services[spec.Name]; ok {
		select {
		case <-svc.done:
		default:
			return svc
		}
	}
	if spec.StopTimeout == 0 {
		spec.StopTimeout = 30 * time.Second
	}
	svc := &Service{
		spec:  spec,
		sup:   s,
		ready: make(chan struct{}),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	svc.setState(Starting, 0)
	s.services[spec.Name] = svc
	go svc.loop(ctx)
	return svc
}

// Statuses returns every service's status.
func (s *Supervisor) Statuses() []Status {
	s.mu.Lock()
	svcs := make([]*Service, 0, len(s.services))
	for _, svc := range s.services {
		svcs = append(svcs, svc)
	}
	s.mu.Unlock()
	out := make([]Status, 0, len(svcs))
	for _, svc := range svcs {
		out = append(out, svc.Status())
	}
	return out
}

// StopAll stops every service, in parallel, and waits.
func (s *Supervisor) StopAll() {
	s.mu.Lock()
	svcs := make([]*Service, 0, len(s.services))
	for _, svc := range s.services {
		svcs = append(svcs, svc)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, svc := range svcs {
		wg.Go(svc.Stop)
	}
	wg.Wait()
}

// Status returns a snapshot.
func (svc *Service) Status() Status {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	return svc.status
}

// Ready is closed on the first READY=1 since Start, whichever process
// (after restarts) sent it; Status tells whether that process still runs.
func (svc *Service) Ready() <-chan struct{} { return svc.ready }

// Done is closed when supervision ended (stopped, failed or not found).
func (svc *Service) Done() <-chan struct{} { return svc.done }

// Stop sends SIGTERM to the child's process group, waits up to the stop
// timeout, then SIGKILLs, and ends supervision. It returns when the child
// is gone.
func (svc *Service) Stop() {
	svc.mu.Lock()
	select {
	case <-svc.stop:
	default:
		close(svc.stop)
	}
	svc.mu.Unlock()
	<-svc.done
}

func (svc *Service) setState(st State, pid int) {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	svc.status.Name = svc.spec.Name
	svc.status.State = st
	svc.status.PID = pid
	svc.status.Since = time.Now()
}

func (svc *Service) logf(format string, args ...any) {
	fmt.Fprintf(svc.sup.output(), "[%s] supervisor: %s\n", svc.spec.Name, fmt.Sprintf(format, args...))
	if svc.sup.Ring != nil {
		fmt.Fprintf(svc.sup.Ring, "[%s] supervisor: %s\n", svc.spec.Name, fmt.Sprintf(format, args...))
	}
}

// loop is the supervision loop: start, wait, decide, back off, repeat.
func (svc *Service) loop(ctx context.Context) {
	defer close(svc.done)
	// The supervisor runs inside PID 1, where a panic would take the
	// kernel down with it: a bug here stops supervising this one service.
	defer func() {
		if r := recover(); r != nil {
			svc.logf("supervisor panic: %v; no longer supervised", r)
			svc.setState(Failed, 0)
		}
	}()
	if _, err := os.Stat(svc.spec.Path); err != nil {
		svc.logf("not started: %v", err)
		svc.setState(NotExists, 0)
		return
	}
	failures := 0
	for {
		started := time.Now()
		ws, stopped, err := svc.runOnce(ctx)
		if stopped {
			svc.setState(Stopped, 0)
			return
		}
		if err == nil && ws.Exited() && ws.ExitStatus() == ExitNoRestart {
			svc.logf("exited with %d (do not restart); leaving it stopped", ExitNoRestart)
			svc.setState(Failed, 0)
			return
		}
		if svc.sup.Backoff.Stable > 0 && time.Since(started) >= svc.sup.Backoff.Stable {
			failures = 0
		}
		failures++
		delay := svc.sup.Backoff.Delay(failures)
		why := describeExit(ws, err)
		svc.mu.Lock()
		svc.status.LastExit = why
		svc.status.Restarts++
		svc.mu.Unlock()
		svc.logf("%s; restarting in %s (failure %d)", why, delay, failures)
		if svc.spec.OnExit != nil {
			svc.spec.OnExit(why)
		}
		svc.setState(BackingOff, 0)
		select {
		case <-time.After(delay):
		case <-svc.stop:
			svc.setState(Stopped, 0)
			return
		case <-ctx.Done():
			svc.setState(Stopped, 0)
			return
		}
	}
}

func describeExit(ws unix.WaitStatus, err error) string {
	switch {
	case err != nil:
		return err.Error()
	case ws.Signaled():
		return "killed by " + ws.Signal().String()
	default:
		return fmt.Sprintf("exited with status %d", ws.ExitStatus())
	}
}

// runOnce starts the child and waits until it exits (stopped=false) or a
// stop was requested and carried out (stopped=true).
func (svc *Service) runOnce(ctx context.Context) (ws unix.WaitStatus, stopped bool, err error) {
	notifyPath := filepath.Join(svc.sup.RunDir, "notify-"+svc.spec.Name+".sock")
	notify, err := sdnotify.Listen(notifyPath)
	if err != nil {
		return 0, false, err
	}
	defer notify.Close()
	if c := svc.spec.Credential; c != nil {
		if err := os.Chown(notifyPath, int(c.Uid), int(c.Gid)); err != nil {
			return 0, false, fmt.Errorf("notify socket for user %d: %w", c.Uid, err)
		}
	}

	outR, outW, err := os.Pipe()
	if err != nil {
		return 0, false, fmt.Errorf("output pipe: %w", err)
	}
	cmd := exec.Command(svc.spec.Path, svc.spec.Args...)
	base := svc.spec.Environ
	if base == nil {
		base = os.Environ()
	}
	cmd.Env = slices.Concat(base, svc.spec.Env)
	cmd.Env = append(cmd.Env, notify.Env())
	if svc.spec.Watchdog > 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("WATCHDOG_USEC=%d", svc.spec.Watchdog.Microseconds()))
	}
	cmd.Stdout, cmd.Stderr = outW, outW
	cmd.SysProcAttr = &unix.SysProcAttr{Setpgid: true, Credential: svc.spec.Credential}
	if svc.spec.DieWithParent {
		cmd.SysProcAttr.Pdeathsig = unix.SIGKILL
	}
	exited, err := svc.sup.Starter.Start(cmd)
	outW.Close()
	if err != nil {
		outR.Close()
		return 0, false, err
	}
	pid := cmd.Process.Pid
	svc.mu.Lock()
	svc.status.Started = time.Now()
	svc.mu.Unlock()
	svc.setState(Starting, pid)

	copied := make(chan struct{})
	go func() {
		defer close(copied)
		svc.copyOutput(outR)
	}()
	go svc.awaitReady(notify, pid)
	hung := make(chan struct{})
	if svc.spec.Watchdog > 0 {
		go svc.watchdog(notify, hung)
	}

	finish := func() {
		// The child's last words go to the log before we decide; a
		// grandchild holding the pipe open must not hold us up.
		select {
		case <-copied:
		case <-time.After(2 * time.Second):
		}
		outR.Close()
		cmd.Process.Release()
	}
	select {
	case ws = <-exited:
		finish()
		return ws, false, nil
	case <-hung:
		err := fmt.Errorf("watchdog: no WATCHDOG=1 within %s", svc.spec.Watchdog)
		svc.logf("%v; killing", err)
		unix.Kill(-pid, unix.SIGKILL)
		<-exited
		finish()
		return 0, false, err
	case <-svc.stop:
	case <-ctx.Done():
	}
	svc.setState(Stopping, pid)
	unix.Kill(-pid, unix.SIGTERM)
	select {
	case ws = <-exited:
	case <-time.After(svc.spec.StopTimeout):
		svc.logf("did not stop within %s; killing", svc.spec.StopTimeout)
		unix.Kill(-pid, unix.SIGKILL)
		ws = <-exited
	}
	finish()
	svc.logf("stopped (%s)", describeExit(ws, nil))
	return ws, true, nil
}

// awaitReady marks the service running when this process sends READY=1
// (it gives up when the socket closes with the process's end).
func (svc *Service) awaitReady(notify *sdnotify.Socket, pid int) {
	if notify.WaitReady(context.Background()) != nil {
		return
	}
	// State and log line first: whoever waits on Ready may report
	// readiness and must not overtake them.
	svc.setState(Running, pid)
	svc.logf("ready")
	svc.readyOnce.Do(func() { close(svc.ready) })
}

// watchdog closes hung when, after the child's READY=1, a watchdog period
// passes without WATCHDOG=1; it ends when the notify socket closes.
func (svc *Service) watchdog(notify *sdnotify.Socket, hung chan<- struct{}) {
	if notify.WaitReady(context.Background()) != nil {
		return
	}
	t := time.NewTimer(svc.spec.Watchdog)
	defer t.Stop()
	for {
		select {
		case <-notify.Watchdog():
			t.Reset(svc.spec.Watchdog)
		case <-t.C:
			close(hung)
			return
		case <-notify.Closed():
			return
		}
	}
}

// output is where child lines go.
func (s *Supervisor) output() io.Writer {
	if s.Output == nil {
		return io.Discard
	}
	return s.Output
}

func (svc *Service) copyOutput(r io.Reader) {
	buf := make([]byte, 32<<10)
	var pending []byte
	emit := func(line []byte) {
		l := fmt.Sprintf("[%s] %s\n", svc.spec.Name, line)
		io.WriteString(svc.sup.output(), l)
		if svc.sup.Ring != nil {
			io.WriteString(svc.sup.Ring, l)
		}
	}
	for {
		n, err := r.Read(buf)
		pending = append(pending, buf[:n]...)
		for {
			i := strings.IndexByte(string(pending), '\n')
			if i < 0 {
				break
			}
			emit(pending[:i])
			pending = pending[i+1:]
		}
		if err != nil {
			if len(pending) > 0 {
				emit(pending)
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				svc.sup.Log.Warn("reading child output", "service", svc.spec.Name, "err", err)
			}
			return
		}
	}
}
