package demo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"syscall"
	"time"

	"github.com/hafw/hafw/internal/vmtest"
)

// VM is one QEMU appliance running inside the segment's namespace, with
// its serial console (the appliance's /dev/console) captured.
type VM struct {
	Name    string
	pid     int
	done    chan struct{}
	err     error // QEMU's exit status, valid after done
	console *vmtest.Console
}

// Console returns everything the VM printed so far.
func (vm *VM) Console() string { return vm.console.String() }

// Tail returns the last n console lines, for failure messages.
func (vm *VM) Tail(n int) string { return vm.console.Tail(n) }

// Len is the console's current length, a mark for WaitFor's from.
func (vm *VM) Len() int { return vm.console.Len() }

// StartVM boots o (vmtest's QEMU command line: TCG, -no-reboot, serial on
// stdio) inside seg's namespace; dir holds QEMU's per-VM files.
func StartVM(seg *Segment, name string, o vmtest.Options, dir string) (*VM, error) {
	args, err := o.Args(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	vm := &VM{Name: name, done: make(chan struct{}), console: vmtest.NewConsole()}
	// ip netns exec execs QEMU in place, so the process group is QEMU's.
	cmd := seg.Command("qemu-system-x86_64", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = vm.console, vm.console
	// Pdeathsig: see vmtest.StartPinned for why the fork needs its own
	// locked thread.
	if err := vmtest.StartPinned(cmd, func(err error) { vm.err = err; close(vm.done) }); err != nil {
		return nil, fmt.Errorf("starting QEMU for %s: %w", name, err)
	}
	vm.pid = cmd.Process.Pid
	return vm, nil
}

// WaitFor waits until the console text printed from offset `from` on
// matches re and returns the submatches. It fails when timeout passes, ctx
// ends or QEMU exits first.
func (vm *VM) WaitFor(ctx context.Context, re *regexp.Regexp, from int, timeout time.Duration) ([]string, error) {
	m, err := vm.console.Wait(ctx, re, from, timeout, vm.done)
	if errors.Is(err, vmtest.ErrExited) {
		return nil, fmt.Errorf("%s: QEMU exited (%v) before the console showed %q", vm.Name, vm.err, re)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", vm.Name, err)
	}
	return m, nil
}

// stateChangeRE matches hmd's log line for a state machine step (slog text
// handler, copied to the console by the init agent with a [hmd] prefix).
var stateChangeRE = regexp.MustCompile(`msg="state change".* to=([A-Z_]+)`)

// States lists the HA states hmd entered, in order, as its console lines
// from offset from on report them; transient states such as
// FAILBACK_ACTIVE last too briefly to be caught by polling the API.
func (vm *VM) States(from int) []string {
	text := vm.Console()
	if from > len(text) {
		from = len(text)
	}
	var out []string
	for _, m := range stateChangeRE.FindAllStringSubmatch(text[from:], -1) {
		out = append(out, m[1])
	}
	return out
}

// Kill is pulling the power: SIGKILL to QEMU, then wait for it.
func (vm *VM) Kill() {
	select {
	case <-vm.done:
		return
	default:
	}
	syscall.Kill(-vm.pid, syscall.SIGKILL)
	<-vm.done
}

// Exited reports whether QEMU has exited.
func (vm *VM) Exited() bool {
	select {
	case <-vm.done:
		return true
	default:
		return false
	}
}
