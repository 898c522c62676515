package supervise

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"
)

// Reaper is the only code in the process that waits for children. As PID 1
// every orphan on the system becomes our child and must be reaped, and
// wait4(-1) cannot tell a supervised child from an orphan before reaping
// it, so supervised children are started through the Reaper, which hands
// their exit status to whoever started them. Nothing else in the process
// may call Wait on a child while the Reaper runs.
type Reaper struct {
	Log *slog.Logger

	mu      sync.Mutex
	waiting map[int]chan unix.WaitStatus
}

// NewReaper makes a Reaper; call Run to start reaping.
func NewReaper(log *slog.Logger) *Reaper {
	return &Reaper{Log: log, waiting: map[int]chan unix.WaitStatus{}}
}

// Start starts cmd and returns a channel that receives its exit status.
// Callers must not call cmd.Wait.
func (r *Reaper) Start(cmd *exec.Cmd) (<-chan unix.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	ch := make(chan unix.WaitStatus, 1)
	r.waiting[cmd.Process.Pid] = ch
	return ch, nil
}

// Run reaps children on every SIGCHLD until ctx ends.
func (r *Reaper) Run(ctx context.Context) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, unix.SIGCHLD)
	defer signal.Stop(sig)
	r.reapAll() // children that died before Notify
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
			r.reapAll()
		}
	}
}

func (r *Reaper) reapAll() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		// Taking the lock after the wait is what closes the race with Start:
		// a child that exits before Start registered it is dispatched once
		// Start releases the lock.
		r.mu.Lock()
		ch, ok := r.waiting[pid]
		delete(r.waiting, pid)
		r.mu.Unlock()
		if ok {
			ch <- ws
		} else {
			r.Log.Debug("reaped orphan", "pid", pid, "status", ws.ExitStatus())
		}
	}
}
