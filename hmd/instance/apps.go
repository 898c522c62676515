package instance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Apps runs the instance's application processes on the active node and
// keeps them stopped on the standby (the seed's DORMANT mode). Each runs
// in its own process group so that Stop also ends its children.
type Apps struct {
	// Commands are the application command lines (from the image's
	// profile); each is started with SocketEnv pointing at the instance
	// API.
	Commands [][]string
	Socket   string
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

// Start starts every application; it is idempotent while they run. A
// failure stops what was started and returns the error.
func (a *Apps) Start(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.procs) > 0 {
		return nil
	}
	for _, argv := range a.Commands {
		if len(argv) == 0 {
			continue
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), SocketEnv+"="+a.Socket)
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
