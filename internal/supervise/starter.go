package supervise

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// Starter starts a child and hands its exit status over a channel; the
// caller never calls cmd.Wait.
type Starter interface {
	Start(cmd *exec.Cmd) (<-chan unix.WaitStatus, error)
}

// ExecStarter is the Starter of a process that is not PID 1 (hmd): each
// child is waited for by exec.Cmd.Wait, so other children of the process
// (health-check commands, tools) keep their own Wait.
type ExecStarter struct{}

// Start implements Starter.
func (ExecStarter) Start(cmd *exec.Cmd) (<-chan unix.WaitStatus, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	ch := make(chan unix.WaitStatus, 1)
	go func() {
		err := cmd.Wait()
		var ws unix.WaitStatus
		if ps := cmd.ProcessState; ps != nil {
			if s, ok := ps.Sys().(syscall.WaitStatus); ok {
				ws = unix.WaitStatus(s)
			}
		} else if err != nil && !errors.Is(err, exec.ErrWaitDelay) {
			ws = unix.WaitStatus(0xff00) // exited 255: the wait itself failed
		}
		ch <- ws
	}()
	return ch, nil
}
