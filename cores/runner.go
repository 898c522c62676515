package cores

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"syscall"

	"github.com/hafw/hafw/cores/plan"
)

// ExecRunner runs a task's command as a child process with HAFW_TASK_ID
// in its environment. The child dies with the core (Pdeathsig), because a
// core that died has lost its tasks to another core and must not finish
// them behind that core's back.
type ExecRunner struct{}

// Run executes t.Command and returns its combined output.
func (ExecRunner) Run(ctx context.Context, t plan.Task) (string, error) {
	cmd := exec.CommandContext(ctx, t.Command[0], t.Command[1:]...)
	cmd.Env = append(cmd.Environ(), "HAFW_TASK_ID="+t.ID)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("running task %s: %w", t.ID, err)
	}
	return out.String(), nil
}
