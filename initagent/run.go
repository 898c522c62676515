package initagent

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/supervise"
)

// hmdName is hmd's name in the supervisor and in `msed status`.
const hmdName = "hmd"

// Run boots and then serves until a shutdown is asked for. As PID 1 it
// never returns: it ends in a reboot or power-off (or a hang with
// hafw.hang). Not as PID 1 it returns nil after an orderly shutdown.
func (a *Agent) Run(ctx context.Context) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGPWR, unix.SIGINT, unix.SIGUSR1, unix.SIGUSR2)
	defer signal.Stop(sigs)
	// ctx ends at the first shutdown request, which also interrupts a boot
	// still waiting for DHCP or hmd.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rebootReq := make(chan struct{}, 1)
	var poweroff bool
	go func() {
		select {
		case <-ctx.Done():
		case <-rebootReq:
			a.consolef("hafw-init: reboot requested")
		case s := <-sigs:
			// SIGUSR2 and SIGPWR power off (the usual init convention);
			// SIGTERM, SIGUSR1 and ctrl-alt-del (SIGINT to PID 1) reboot.
			poweroff = s == unix.SIGPWR || s == unix.SIGUSR2
			a.consolef("hafw-init: %v received, shutting down", s)
		}
		cancel()
	}()

	b := &bootState{}
	if err := a.safely("boot", func() error { return a.runSteps(ctx, bootSteps(), b) }); err != nil && ctx.Err() == nil {
		return a.fatal(err, b.cmdline.Hang)
	}
	a.Log.Info("configuration", "source", b.source, "configured", b.configured, "role", b.role)

	// The reaper starts only now: boot steps run tools (mke2fs) with
	// exec.Cmd.Wait, which must not lose its child to wait4(-1). Orphans
	// from the boot are reaped as soon as it runs. reaperCtx outlives the
	// shutdown so that stopped children are still reaped.
	reaperCtx, stopReaper := context.WithCancel(context.Background())
	reaper := supervise.NewReaper(a.Log)
	reaped := make(chan struct{})
	go func() { defer close(reaped); reaper.Run(reaperCtx) }()
	defer func() { stopReaper(); <-reaped }()

	rt := &runtime{
		a:         a,
		b:         b,
		started:   time.Now(),
		rebootReq: rebootReq,
		sup: &supervise.Supervisor{
			Starter: reaper,
			Backoff: a.Backoff,
			Output:  a.Console,
			Ring:    supervise.NewRing(1000),
			RunDir:  a.Paths.Run,
			Log:     a.Log,
		},
	}
	var stopControl func()
	var startErr error
	if ctx.Err() == nil {
		if err := os.MkdirAll(a.Paths.Run, 0o700); err != nil {
			a.consolef("hafw-init: warning: %v", err)
		}
		var err error
		if stopControl, err = serveControl(ctx, a.Paths.ControlSocket(), rt); err != nil {
			a.consolef("hafw-init: warning: %v (msed and setup cannot reach the agent)", err)
		}
		if startErr = a.safely("start services", func() error { return rt.startServices(ctx) }); startErr != nil && ctx.Err() == nil {
			a.consolef("hafw-init: warning: %v", startErr)
		}
	}
	if ctx.Err() == nil {
		rt.printReady()
		go rt.finishTrial(ctx, startErr)
		a.notify("READY=1")
		if a.WatchdogInterval > 0 {
			go a.watchdog(ctx)
		}
		if !b.configured {
			a.consolef("hafw-init: this appliance is not configured: run setup on the console (or deploy with OVF properties or hafw.* kernel parameters)")
			if a.PID1 {
				go rt.offerWizard(ctx, reaper)
			}
		} else if a.PID1 {
			go rt.offerShell(ctx, reaper)
		}
	}
	<-ctx.Done()
	a.notify("STOPPING=1")
	a.safely("shutdown", func() error { rt.shutdown(stopControl); return nil })
	if !a.PID1 {
		a.consolef("hafw-init: stopped")
		return nil
	}
	return a.reboot(poweroff, false)
}

// runtime is the agent after boot: the supervisor and what the control
// socket reads and changes.
type runtime struct {
	a       *Agent
	sup     *supervise.Supervisor
	started time.Time
	// rebootReq carries a reboot asked for on the control socket.
	rebootReq chan struct{}

	// opMu serialises start, stop and reload (which may wait a minute for
	// hmd); mu guards the fields below and is only held briefly, so that
	// status answers during a slow start.
	opMu    sync.Mutex
	mu      sync.Mutex
	b       *bootState // replaced whole by reload, never modified
	pairing string     // why the pair hmd knows is unsupported, if it is
}

// boot returns the current boot state.
func (r *runtime) boot() *bootState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.b
}

// hmdConfig is the configuration file hmd is given. An unconfigured
// appliance has nothing on /data (so that the next boot still takes OVF or
// kernel command line keys and offers the wizard); hmd then gets the
// default configuration, role none, written to the runtime directory.
func (r *runtime) hmdConfig(b *bootState) (string, error) {
	if b.configured {
		return r.a.Paths.Layout().ConfigFile(), nil
	}
	path := filepath.Join(r.a.Paths.Run, "unconfigured-appliance.json")
	if err := config.Save(path, b.cfg); err != nil {
		return "", fmt.Errorf("write hmd's configuration for an unconfigured appliance: %w", err)
	}
	return path, nil
}

func (r *runtime) hmdSpec(cfgPath string) supervise.Spec {
	b := r.boot()
	layout := r.a.Paths.Layout()
	args := []string{
		"--config", cfgPath,
		"--state-dir", layout.HMDDir(),
		"--socket", r.a.Paths.HMDSocket(),
		"--license-dir", layout.LicenseDir(),
		"--version-file", filepath.Join(r.a.Paths.Etc, "version"),
		"--profile-file", filepath.Join(r.a.Paths.Etc, "profile"),
		"--vendor-key", filepath.Join(r.a.Paths.Etc, "vendor.pub"),
	}
	// hmd resolves identity and decides its role by the same rule
	// (package appliance), from the same kernel command line; recovery is
	// passed on only for the boot it was asked for.
	args = append(args, "--cmdline", r.a.Paths.Cmdline)
	if b.cmdline.Recovery {
		args = append(args, "--recovery")
	}
	return supervise.Spec{
		Name: hmdName,
		Path: filepath.Join(r.a.Paths.Bin, "hmd"),
		Args: args,
		Env:  []string{"TZ=" + b.cfg.Timezone},
	}
}

// startServices starts hmd and waits for its READY=1 (bounded).
func (r *runtime) startServices(ctx context.Context) error {
	r.opMu.Lock()
	defer r.opMu.Unlock()
	return r.startLocked(ctx)
}

func (r *runtime) startLocked(ctx context.Context) error {
	cfgPath, err := r.hmdConfig(r.boot())
	if err != nil {
		return err
	}
	svc := r.sup.Start(ctx, r.hmdSpec(cfgPath))
	timeout := r.a.HMDReadyTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	select {
	case <-svc.Ready():
		r.checkPairing(ctx)
		return nil
	case <-svc.Done():
		return fmt.Errorf("hmd is not running: %s", svc.Status().State)
	case <-time.After(timeout):
		return fmt.Errorf("hmd did not report ready within %s; it is still supervised", timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stopServices stops every supervised service (hmd reports
// GRACEFUL_SHUTDOWN to its peer on SIGTERM).
func (r *runtime) stopServices() {
	r.opMu.Lock()
	defer r.opMu.Unlock()
	r.sup.StopAll()
}

// reload applies the stored configuration without a reboot: services
// stop, hostname/identity/licenses/role/network are redone, services start
// again and a new ready line is printed.
func (r *runtime) reload(ctx context.Context) error {
	r.opMu.Lock()
	defer r.opMu.Unlock()
	cfg, err := config.Load(r.a.Paths.Layout().ConfigFile())
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	r.sup.StopAll()
	old := r.boot()
	nb := &bootState{cmdline: old.cmdline, cfg: cfg, configured: true, source: "data partition (reloaded)", dataMounted: old.dataMounted, slots: old.slots}
	// hafw.recovery applies to the boot it was given for; after setup the
	// configuration decides.
	nb.cmdline.Recovery = false
	steps := []step{
		{name: "set hostname", run: stepHostname, pid1: true},
		{name: "identify appliance", run: stepIdentity},
		{name: "verify licenses", run: stepLicenses},
		{name: "decide HA role", run: stepRole},
		{name: "configure network", run: stepNetwork},
		{name: "write resolv.conf", run: stepDNS, pid1: true},
	}
	if err := r.a.safely("reload", func() error { return r.a.runSteps(ctx, steps, nb) }); err != nil {
		return err
	}
	r.mu.Lock()
	r.b, r.pairing = nb, ""
	r.mu.Unlock()
	if err := r.startLocked(ctx); err != nil {
		r.a.consolef("hafw-init: warning: %v", err)
	}
	r.printReady()
	return nil
}

func (r *runtime) requestReboot() {
	select {
	case r.rebootReq <- struct{}{}:
	default:
	}
}

func (r *runtime) status() ControlStatus {
	r.mu.Lock()
	b, pairing := r.b, r.pairing
	r.mu.Unlock()
	eth0, eth1 := r.ports()
	return ControlStatus{
		Configured: b.configured,
		Source:     b.source,
		Hostname:   b.cfg.Hostname,
		Profile:    b.profile,
		UDI:        b.udi,
		Role:       b.role,
		Activated:  b.activated,
		Recovery:   b.recovery,
		Eth0:       eth0,
		Eth1:       eth1,
		Timezone:   b.cfg.Timezone,
		Pairing:    pairing,
		Started:    r.started,
		Services:   r.sup.Statuses(),
		Log:        r.sup.Ring.Lines(),
	}
}

func (r *runtime) printReady() {
	b := r.boot()
	eth0, eth1 := r.ports()
	r.a.consolef("%s", Ready{Host: b.cfg.Hostname, Profile: b.profile, Role: b.role, Eth0: eth0, Eth1: eth1, Activated: b.activated})
}

// ports reports eth0 and eth1 as they stand now: a DHCP lease that
// arrived after the boot step stopped waiting shows up here.
func (r *runtime) ports() (eth0, eth1 string) {
	b := r.boot()
	eth0, eth1 = b.eth0, b.eth1
	if r.a.Network == nil {
		return eth0, eth1
	}
	if st, err := r.a.Network.Status("eth0"); err == nil {
		eth0 = PortReport("eth0", st)
	}
	if st, err := r.a.Network.Status("eth1"); err == nil {
		eth1 = PortReport("eth1", st)
	}
	return eth0, eth1
}

// shutdown stops the services (hmd first tells its peer GRACEFUL_SHUTDOWN),
// closes the control socket, syncs and unmounts the data partition.
func (r *runtime) shutdown(stopControl func()) {
	r.stopServices()
	if stopControl != nil {
		stopControl()
	}
	a := r.a
	if !a.PID1 {
		return
	}
	a.Sys.Sync()
	b := r.boot()
	if b.dataMounted {
		if a.DataUnmounting != nil {
			a.DataUnmounting()
		}
		if err := a.Sys.Unmount(a.Paths.Data); err != nil {
			a.consolef("hafw-init: warning: %v", err)
		}
	}
	if b.slots.esp != "" {
		if err := a.Sys.Unmount(b.slots.esp); err != nil {
			a.consolef("hafw-init: warning: %v", err)
		}
	}
	a.Sys.Sync()
}

// offerWizard runs setup on the console of an unconfigured appliance. When
// the operator completes it, setup saves and asks the agent to reload.
func (r *runtime) offerWizard(ctx context.Context, reaper *supervise.Reaper) {
	path := filepath.Join(r.a.Paths.Bin, "setup")
	if _, err := os.Stat(path); err != nil {
		r.a.consolef("hafw-init: warning: no setup wizard in the image: %v", err)
		return
	}
	cmd := newConsoleCommand(path)
	exited, err := reaper.Start(cmd)
	if err != nil {
		r.a.consolef("hafw-init: warning: %v", err)
		return
	}
	select {
	case ws := <-exited:
		if ws.ExitStatus() != 0 {
			r.a.consolef("hafw-init: setup ended with status %d; run it again with: setup", ws.ExitStatus())
		}
	case <-ctx.Done():
		unix.Kill(cmd.Process.Pid, unix.SIGTERM)
	}
}

func (a *Agent) notify(state string) {
	if a.Notify == nil {
		return
	}
	if err := a.Notify(state); err != nil {
		a.Log.Warn("sd_notify", "state", state, "err", err)
	}
}

func (a *Agent) watchdog(ctx context.Context) {
	t := time.NewTicker(a.WatchdogInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.notify("WATCHDOG=1")
		}
	}
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
