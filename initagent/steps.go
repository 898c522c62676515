package initagent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/hafw/hafw/appliance"
	"github.com/hafw/hafw/config"
)

// step is one entry of the boot table.
type step struct {
	name string
	run  func(ctx context.Context, a *Agent, b *bootState) error
	// fatal failures end the boot (reboot, or hang with hafw.hang); other
	// failures are reported on the console and the boot goes on, because
	// an appliance that comes up degraded can still be reached and fixed.
	fatal bool
	// pid1 steps only run when the agent is the appliance's init.
	pid1 bool
}

// bootSteps is the boot sequence, in order.
func bootSteps() []step {
	return []step{
		{name: "mount pseudo filesystems", run: stepMounts, fatal: true, pid1: true},
		{name: "attach console", run: stepConsole, pid1: true},
		{name: "read kernel command line", run: stepCmdline},
		{name: "load kernel modules", run: stepModules, pid1: true},
		{name: "mount data partition", run: stepDataPartition, pid1: true},
		{name: "read configuration", run: stepConfig},
		{name: "set hostname", run: stepHostname, pid1: true},
		{name: "identify appliance", run: stepIdentity},
		{name: "verify licenses", run: stepLicenses},
		{name: "decide HA role", run: stepRole},
		{name: "check boot slots", run: stepBootSlots, pid1: true},
		{name: "configure network", run: stepNetwork},
		{name: "write resolv.conf", run: stepDNS, pid1: true},
		{name: "synchronise clock", run: stepNTP, pid1: true},
	}
}

// runSteps runs the table. A fatal step's error is returned; the caller
// decides between reboot and hang.
func (a *Agent) runSteps(ctx context.Context, steps []step, b *bootState) error {
	for _, s := range steps {
		if s.pid1 && !a.PID1 {
			continue
		}
		a.Log.Debug("boot step", "step", s.name)
		if err := s.run(ctx, a, b); err != nil {
			if s.fatal {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			a.consolef("hafw-init: warning: %s: %v", s.name, err)
		}
	}
	return nil
}

func stepMounts(_ context.Context, a *Agent, _ *bootState) error {
	for _, m := range baseMounts() {
		if err := a.Sys.Mount(m); err != nil {
			return err
		}
	}
	return os.MkdirAll(a.Paths.Run, 0o755)
}

func stepConsole(_ context.Context, a *Agent, _ *bootState) error {
	return errors.Join(a.Sys.AttachConsole(), a.Sys.TrapCtrlAltDel())
}

func stepCmdline(_ context.Context, a *Agent, b *bootState) error {
	data, err := os.ReadFile(a.Paths.Cmdline)
	if err != nil {
		return fmt.Errorf("read %s: %w", a.Paths.Cmdline, err)
	}
	b.cmdline = appliance.ParseCmdline(string(data))
	return nil
}

// stepModules loads every listed module; one that fails is reported and
// the rest are still tried, since a missing NIC driver should not keep the
// other port from coming up.
func stepModules(_ context.Context, a *Agent, _ *bootState) error {
	data, err := os.ReadFile(filepath.Join(a.Paths.Etc, "modules.list"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read modules.list: %w", err)
	}
	mods, err := ParseModulesList(string(data))
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range mods {
		if err := a.Sys.LoadModule(m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func stepDataPartition(ctx context.Context, a *Agent, b *bootState) error {
	disks := Disks{SysRoot: a.Paths.Sys, DevRoot: a.Paths.Dev}
	part, err := disks.Find(config.DataPartitionLabel)
	if err != nil {
		return fmt.Errorf("%w (the configuration will not survive a reboot)", err)
	}
	if part.Blank {
		a.consolef("hafw-init: creating the data filesystem on blank %s", part.Device)
		if err := a.Sys.MakeFS(ctx, part.Device, config.DataPartitionLabel); err != nil {
			return err
		}
	}
	if err := a.Sys.Mount(Mount{Source: part.Device, Target: a.Paths.Data, FSType: "ext4"}); err != nil {
		return err
	}
	b.dataMounted = true
	if a.DataMounted != nil {
		a.DataMounted(a.Paths.Data)
	}
	return nil
}

// stepConfig finds the configuration: stored on the data partition, else
// the first-boot keys (OVF environment, then kernel command line, which
// wins key by key), else the unconfigured default (role none). A bad
// stored file is reported and not overwritten: the wizard may replace it,
// nothing else does.
func stepConfig(ctx context.Context, a *Agent, b *bootState) error {
	b.cfg = config.Default()
	stored, err := config.Load(a.Paths.Layout().ConfigFile())
	switch {
	case err == nil:
		b.cfg, b.configured, b.source = stored, true, "data partition"
		return nil
	case !errors.Is(err, config.ErrNotConfigured):
		return fmt.Errorf("stored configuration unusable, booting unconfigured: %w", err)
	}
	keys, source := firstBootKeys(ctx, a, b)
	if len(keys) == 0 {
		b.source = "default (unconfigured)"
		return nil
	}
	cfg, err := ApplyKeys(config.Default(), keys)
	if err != nil {
		return fmt.Errorf("first-boot configuration from %s: %w", source, err)
	}
	b.cfg, b.configured, b.source = cfg, true, source
	if err := config.Save(a.Paths.Layout().ConfigFile(), cfg); err != nil {
		return fmt.Errorf("store first-boot configuration: %w", err)
	}
	return nil
}

// firstBootKeys merges the OVF environment (if any) with the kernel
// command line keys; the command line wins key by key, since it is what an
// operator edits at the boot loader to correct a deployment.
func firstBootKeys(ctx context.Context, a *Agent, b *bootState) (map[string]string, string) {
	keys := map[string]string{}
	var sources []string
	ovf, err := a.ovfKeys(ctx)
	if err != nil {
		a.consolef("hafw-init: warning: OVF environment ignored: %v", err)
	}
	if len(ovf) > 0 {
		maps.Copy(keys, ovf)
		sources = append(sources, "OVF environment")
	}
	if len(b.cmdline.Keys) > 0 {
		maps.Copy(keys, b.cmdline.Keys)
		sources = append(sources, "kernel command line")
	}
	return keys, strings.Join(sources, " + ")
}

func stepHostname(_ context.Context, a *Agent, b *bootState) error {
	return a.Sys.SetHostname(b.cfg.Hostname)
}
