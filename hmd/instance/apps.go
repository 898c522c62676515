package instance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hafw/hafw/internal/sdnotify"
)

// Apps runs the instance's application processes on the active node and
// keeps them stopped on the standby (the seed's DORMANT mode). Each runs
// in its own process group so that Stop also ends its children.
//
// An application tells hmd that it serves with sd_notify READY=1 (as a
// systemd Type=notify service does), so that the node reports
// PRIMARY_ACTIVE or FAILOVER_ACTIVE only once clients can be served: a
// client that connects right after the state change must not be refused
// by a port nobody listens on yet.
type Apps struct {
	// Commands are the application command lines (from the image's
	// profile); each is started with SocketEnv pointing at the instance
	// API.
	Commands [][]string
	Socket   string
	// RunDir holds the applications' notify sockets.
	RunDir string
	// ReadyTimeout bounds the wait for an application's READY=1 (10 s
	// when zero); an application that never sends it is taken as ready
	// then, with a warning, so one that does not speak the protocol
	// delays serving but does not prevent it.
	ReadyTimeout time.Duration
	// Grace is how long Stop waits after SIGTERM before SIGKILL (5 s
	// when zero).
	Grace time.Duration
	Log   *slog.Logger

	mu    sync.Mutex
	procs []*proc
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts every application and returns once each has reported
// ready; it is idempotent while they run. A failure (an application that
// cannot start, or exits before it is ready) stops what was started and
// returns the error.
func (a *Apps) Start(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.procs) > 0 {
		return nil
	}
	var notify []*sdnotify.Socket
	defer func() {
		for _, n := range notify {
			n.Close()
		}
	}()
	for i, argv := range a.Commands {
		if len(argv) == 0 {
			continue
		}
		n, err := sdnotify.Listen(filepath.Join(a.RunDir, fmt.Sprintf("app%d.notify", i)))
		if err != nil {
			a.stopLocked()
			return fmt.Errorf("application %s: %w", argv[0], err)
		}
		notify = append(notify, n)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), SocketEnv+"="+a.Socket, n.Env())
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		// The applications die with hmd (even kill -9): without their
		// supervisor nobody would stop them when this node stops serving.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			a.stopLocked()
			return fmt.Errorf("start application %s: %w", argv[0], err)
		}
		p := &proc{cmd: cmd, done: make(chan struct{})}
		go func() {
			err := cmd.Wait()
			close(p.done)
			a.logger().Info("application exited", "cmd", argv[0], "err", err)
		}()
		a.procs = append(a.procs, p)
	}
	if err := a.awaitReady(ctx, notify); err != nil {
		a.stopLocked()
		return err
	}
	return nil
}

// awaitReady waits, for all applications at once, until each has sent
// READY=1 or the ready timeout has passed; one that exits unready ends
// the wait for all with an error.
func (a *Apps) awaitReady(ctx context.Context, notify []*sdnotify.Socket) error {
	timeout := a.ReadyTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	errs := make([]error, len(a.procs))
	var wg sync.WaitGroup
	for i, p := range a.procs {
		wg.Go(func() {
			errs[i] = a.awaitOne(wctx, p, notify[i])
			if errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("waiting for the applications to be ready: %w", err)
	}
	return errors.Join(errs...)
}

// awaitOne waits for p's READY=1 or exit, or the end of ctx: its deadline
// (a warning; p is taken as ready) or another application's failure.
func (a *Apps) awaitOne(ctx context.Context, p *proc, notify *sdnotify.Socket) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-pctx.Done():
		}
	}()
	err := notify.WaitReady(pctx)
	select {
	case <-p.done:
		if err != nil {
			return fmt.Errorf("application %s exited before it was ready", p.cmd.Path)
		}
	default:
	}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		a.logger().Warn("application did not report ready (sd_notify READY=1); serving anyway", "cmd", p.cmd.Path)
	}
	return nil
}

// Stop stops every application: SIGTERM to its group, SIGKILL after Grace.
func (a *Apps) Stop(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stopLocked()
}

// Running reports how many applications are still running.
func (a *Apps) Running() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, p := range a.procs {
		select {
		case <-p.done:
		default:
			n++
		}
	}
	return n
}

func (a *Apps) stopLocked() error {
	grace := a.Grace
	if grace <= 0 {
		grace = 5 * time.Second
	}
	var errs []error
	for _, p := range a.procs {
		pgid := -p.cmd.Process.Pid
		if err := syscall.Kill(pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("stop application %s: %w", p.cmd.Path, err))
		}
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	expired := false
	for _, p := range a.procs {
		if !expired {
			select {
			case <-p.done:
				continue
			case <-timer.C:
				expired = true
			}
		}
		select {
		case <-p.done:
		default:
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	a.procs = nil
	return errors.Join(errs...)
}

func (a *Apps) logger() *slog.Logger {
	if a.Log == nil {
		return slog.Default()
	}
	return a.Log
}
