package initagent

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"golang.org/x/sys/unix"
)

// Run boots and then serves until a shutdown is asked for. As PID 1 it
// never returns: it ends in a reboot or power-off (or a hang with
// hafw.hang). Not as PID 1 it returns nil after an orderly shutdown.
func (a *Agent) Run(ctx context.Context) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGPWR, unix.SIGINT, unix.SIGUSR1, unix.SIGUSR2)
	defer signal.Stop(sigs)

	b := &bootState{}
	err := a.safely("boot", func() error { return a.runSteps(ctx, bootSteps(), b) })
	if err != nil {
		return a.fatal(err, b.cmdline.Hang)
	}
	a.Log.Info("configuration", "source", b.source, "configured", b.configured, "role", b.cfg.Role)
	a.consolef("%s", a.ready(b))

	poweroff := false
	select {
	case <-ctx.Done():
	case s := <-sigs:
		// SIGUSR2 and SIGPWR power off (the usual init convention); SIGTERM and
		// ctrl-alt-del (SIGINT to PID 1) reboot.
		poweroff = s == unix.SIGPWR || s == unix.SIGUSR2
		a.consolef("hafw-init: %v received, shutting down", s)
	}
	a.shutdown(b)
	if !a.PID1 {
		return nil
	}
	return a.reboot(poweroff, false)
}

// ready builds the ready line from what the boot learnt.
func (a *Agent) ready(b *bootState) Ready {
	return Ready{
		Host:      b.cfg.Hostname,
		Profile:   b.profile,
		Role:      b.cfg.Role,
		Eth0:      b.eth0,
		Eth1:      b.eth1,
		Activated: b.activated,
	}
}

// shutdown stops what the agent started, syncs and unmounts the data
// partition.
func (a *Agent) shutdown(b *bootState) {
	if !a.PID1 {
		return
	}
	a.Sys.Sync()
	if b.dataMounted {
		if err := a.Sys.Unmount(a.Paths.Data); err != nil {
			a.consolef("hafw-init: warning: %v", err)
		}
	}
	a.Sys.Sync()
}

// safely runs f and turns a panic into an error: PID 1 must never die of a
// programming error, since the kernel would panic with it.
func (a *Agent) safely(what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: panic: %v", what, r)
		}
	}()
	return f()
}

// fatal reports err on the console and ends in a clean reboot, or a hang
// when the kernel command line has hafw.hang. Not as PID 1 it returns err.
func (a *Agent) fatal(err error, hang bool) error {
	a.consolef("hafw-init: FATAL: %v", err)
	if !a.PID1 {
		return err
	}
	a.Sys.Sync()
	return a.reboot(false, hang)
}

// reboot never returns as PID 1: if the reboot call itself fails there is
// nothing left to do but wait, since exiting would panic the kernel.
func (a *Agent) reboot(poweroff, hang bool) error {
	if hang {
		a.consolef("hafw-init: hafw.hang is set: halting here for inspection")
	} else {
		what := "rebooting"
		if poweroff {
			what = "powering off"
		}
		a.consolef("hafw-init: %s", what)
		if err := a.Sys.Reboot(poweroff); err != nil {
			a.consolef("hafw-init: %v; halting", err)
		}
	}
	for {
		time.Sleep(time.Hour)
	}
}
