package vmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Console captures a VM's serial console (QEMU's stdout and stderr) and
// lets callers wait for a line on it. The boot tests and the QEMU demo both
// watch consoles this way; the demo's VMs outlive any one test, so the type
// knows nothing of testing.T.
type Console struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

// NewConsole returns an empty console.
func NewConsole() *Console { return &Console{changed: make(chan struct{})} }

// Write implements io.Writer for QEMU's output.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	close(c.changed)
	c.changed = make(chan struct{})
	return len(p), nil
}

// String returns everything printed so far.
func (c *Console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// Len is the console's current length, a mark for Wait's from.
func (c *Console) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Len()
}

// Tail returns the last n lines (carriage returns removed), for failure
// messages.
func (c *Console) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(c.String(), "\r", ""), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ErrExited is returned by Wait when the VM ended before the console
// matched.
var ErrExited = errors.New("QEMU exited")

// Wait waits until the text printed from offset from on matches re and
// returns the submatches. It gives up when timeout passes, ctx ends, or
// exited is closed (QEMU is gone) without a match.
func (c *Console) Wait(ctx context.Context, re *regexp.Regexp, from int, timeout time.Duration, exited <-chan struct{}) ([]string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	find := func() []string {
		text := c.String()
		return re.FindStringSubmatch(text[min(from, len(text)):])
	}
	for {
		c.mu.Lock()
		changed := c.changed
		c.mu.Unlock()
		if m := find(); m != nil {
			return m, nil
		}
		select {
		case <-changed:
		case <-exited:
			// Output may have arrived just before the exit.
			if m := find(); m != nil {
				return m, nil
			}
			return nil, fmt.Errorf("%w before the console matched %q", ErrExited, re)
		case <-deadline.C:
			return nil, fmt.Errorf("console did not match %q within %s", re, timeout)
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %q on the console: %w", re, ctx.Err())
		}
	}
}

// StartPinned starts cmd from an OS thread that stays locked until cmd
// exits, then calls exited with its status. QEMU runs with Pdeathsig, which
// the kernel fires when the *thread* that forked it ends, not the process:
// a Go thread ends whenever a goroutine exits while locked to it (as
// namespace helpers do), so forking from an arbitrary thread could kill a
// healthy VM at a random moment.
func StartPinned(cmd *exec.Cmd, exited func(error)) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited(cmd.Wait())
	}()
	return <-started
}
