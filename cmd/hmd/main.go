// Command hmd is the health-monitor daemon: it runs the HA pair (or N:1
// group) of this appliance — heartbeats, the state machine, the VIP, the
// management API on the unix socket and on the health-monitor address.
//
// This main only parses flags, reads the files the image and setup provide,
// and wires the Linux implementations into package daemon. Exit status 78
// (EX_CONFIG) means a configuration error the supervisor must not restart.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"

	"github.com/hafw/hafw/appliance"
	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/daemon"
	"github.com/hafw/hafw/hmd/instance"
	"github.com/hafw/hafw/hmd/replicate"
	"github.com/hafw/hafw/hmd/vip"
	"github.com/hafw/hafw/image/bootctl"
	"github.com/hafw/hafw/initagent"
	"github.com/hafw/hafw/internal/tlsid"
	"github.com/hafw/hafw/osnet"
	"github.com/hafw/hafw/upgrade"
)

// exConfig is sysexits.h's EX_CONFIG: the init agent does not restart hmd.
const exConfig = 78

// configError marks failures that a restart cannot fix.
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
func (e configError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stderr)
	for errors.Is(err, errRestored) {
		err = run(ctx, os.Args[1:], os.Stderr)
	}
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "hmd: %v\n", err)
		var ce configError
		if errors.As(err, &ce) {
			os.Exit(exConfig)
		}
		os.Exit(1)
	}
}

type flags struct {
	config, stateDir, socket     string
	versionFile, profileFile     string
	vendorKey, licenseDir        string
	cmdline                      string
	logLevel, logDir             string
	recovery                     bool
	heartbeatPort                int
	stabilization, gracefulLimit time.Duration
	esp, efivars, initControl    string
	inst                         instanceFlags
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	layout := config.Layout{Root: config.DefaultRoot}
	fs := flag.NewFlagSet("hmd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", layout.ConfigFile(), "appliance configuration `file`")
	fs.StringVar(&f.stateDir, "state-dir", layout.HMDDir(), "hmd state `directory` (pairings, HA state, events, API certificate)")
	fs.StringVar(&f.socket, "socket", api.DefaultSocket, "local API unix `socket`")
	fs.StringVar(&f.versionFile, "version-file", "/etc/hafw/version", "firmware version `file`")
	fs.StringVar(&f.profileFile, "profile-file", "/etc/hafw/profile", "the image's hardware profile `file` (hafw.profile= and the configuration's profile override it)")
	fs.StringVar(&f.cmdline, "cmdline", "/proc/cmdline", "kernel command line `file` (its hafw.profile= overrides every other profile)")
	fs.StringVar(&f.vendorKey, "vendor-key", "/etc/hafw/vendor.pub", "licensing vendor public key `file`")
	fs.StringVar(&f.licenseDir, "license-dir", layout.LicenseDir(), "installed licenses `directory`")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logDir, "log-dir", "", "log files `directory` on the data partition (default: logs/ next to the state directory)")
	fs.BoolVar(&f.recovery, "recovery", false, "HA recovery mode (hafw.recovery): take no HA role")
	fs.IntVar(&f.heartbeatPort, "heartbeat-port", daemon.HeartbeatPort, "UDP `port` of heartbeats")
	fs.DurationVar(&f.stabilization, "stabilization-window", 0, "refuse a failback this soon after a failover unless forced (default the seed's 30m)")
	fs.DurationVar(&f.gracefulLimit, "graceful-timeout", 0, "how long a gracefully stopped peer is waited for (default 10m)")
	fs.StringVar(&f.esp, "esp", "/boot", "mounted boot partition `directory` (firmware upgrades)")
	fs.StringVar(&f.efivars, "efivars", bootctl.DefaultEfivars, "efivarfs `directory` (which boot entry booted)")
	fs.StringVar(&f.initControl, "init-control", initagent.DefaultPaths().ControlSocket(), "init agent control `socket` (reboots after an upgrade)")
	fs.StringVar(&f.inst.dir, "instance-dir", "", "service instance databases `directory` (default: instance/ next to the state directory)")
	fs.StringVar(&f.inst.socket, "instance-socket", "", "instance API unix `socket` for the applications (default: instance.sock next to --socket)")
	fs.StringVar(&f.inst.appsFile, "apps-file", "/etc/hafw/apps", "applications `file` (JSON with health checks and policy, or one command line per line; docs/hmd.md)")
	fs.StringVar(&f.inst.mode, "protection-mode", string(replicate.MaxAvailability), "data replication `mode`: maximum-availability, maximum-protection or maximum-performance")
	fs.IntVar(&f.inst.port, "replication-port", instance.BasePort, "replication base TCP `port` (plus the instance slot)")
	if err := fs.Parse(args); err != nil {
		return f, configError{err}
	}
	if fs.NArg() > 0 {
		return f, configError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	return f, nil
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	f, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return configError{fmt.Errorf("--log-level: %w", err)}
	}
	logw := openLogs(f, stderr)
	defer logw.Close()
	log := slog.New(slog.NewTextHandler(io.MultiWriter(stderr, logw), &slog.HandlerOptions{Level: level}))
	raiseFileLimit(log)

	cfg, err := config.Load(f.config)
	if err != nil {
		return configError{err}
	}
	boot, err := appliance.ReadCmdline(f.cmdline)
	if err != nil {
		return configError{err}
	}
	lic := licenseFiles{files: appliance.LicenseFiles{Dir: f.licenseDir, VendorKey: f.vendorKey}}
	if lic.id, err = appliance.Resolve(appliance.Sources{Cmdline: boot, Config: cfg, ProfileFile: f.profileFile}); err != nil {
		// hmd still runs, with no role (appliance.IdentityUnknown), so
		// that the appliance can be reached and fixed.
		log.Error("no appliance identity", "err", err)
	}
	decision, decider, err := decide(f.recovery, cfg, lic, f.stateDir, log)
	if err != nil {
		return err
	}
	recovery := decision.Recovery
	restore := newRestorer(f.config)
	staleVIP := cfg.VIP
	if recovery {
		// A recovering appliance holds nothing, so it cannot disturb the
		// secondary that serves in its place.
		cfg.Role, cfg.VIP = config.RoleNone, netip.Prefix{}
	}
	profile, udi := lic.id.Profile, ""
	if profile.Model != "" {
		udi = lic.id.UDI.String()
	}
	version := readLine(f.versionFile, "dev")
	id, err := tlsid.LoadOrCreate(filepath.Join(f.stateDir, "tls"), cfg.Hostname)
	if err != nil {
		return err
	}
	host, err := osnet.NewHost(log)
	if err != nil {
		return err
	}
	defer host.Close()
	arp, err := osnet.DialARP(cfg.HealthMonitorInterface, log)
	if err != nil {
		return err
	}
	defer arp.Close()
	exec := &vip.Executor{Interface: cfg.HealthMonitorInterface, Addrs: host, Announcer: arp, Prober: arp, Log: log}
	defer exec.Close()
	if recovery && staleVIP.IsValid() {
		// hmd restarted into recovery mode without a reboot may find the
		// configured VIP still on the interface; a recovering node holds
		// nothing, or the secondary serving in its place would see a
		// second owner.
		if err := exec.Reconcile([]netip.Prefix{staleVIP}); err != nil {
			log.Error("recovery mode: remove a left-over VIP", "err", err)
		}
	}

	var d *daemon.Daemon
	password := newPasswordCheck(f.config, cfg.PasswordHash)
	op, err := openOps(f.stateDir, cfg, lic, password, func(ctx context.Context) (api.Status, error) { return d.Status(ctx) }, log)
	if err != nil {
		return err
	}
	defer op.notes.Close()
	logw.notes.Store(op.notes)
	svc, err := newInstanceService(f.inst, f.stateDir, f.socket, cfg, id, op.metrics.ObserveCommit, log)
	if err != nil {
		return err
	}
	instHook, syncHook := svc.Hooks()
	svcCtx, stopSvc := context.WithCancel(context.Background())
	svcDone := make(chan struct{})
	go func() {
		defer close(svcDone)
		svc.Run(svcCtx)
	}()
	// The instance stops after the daemon (which stops it first, in order).
	defer func() { stopSvc(); <-svcDone }()

	d, err = daemon.New(daemon.Options{
		Config: cfg, StateDir: f.stateDir, Version: version, UDI: udi, Profile: profile,
		Activated: lic.Activated, Decide: decider.Decide,
		Identity: id, VIP: exec, Log: log, HeartbeatPort: f.heartbeatPort,
		InstallLicense: lic.Install,
		Instance:       instHook, Data: syncHook,
		StabilizationWindow: f.stabilization, GracefulTimeout: f.gracefulLimit, AppHoldDown: svc.AppHoldDown(),
		Recovery: recovery, Restored: restore.restored, RemoveActivation: lic.RemoveActivation,
		Observer: op.observer, HeartbeatRTT: op.metrics.ObserveRTT,
	})
	if err != nil {
		return err
	}
	svc.SetEvents(d)
	fw := newFirmware(upgrade.Machine{Boot: upgrade.Dir(f.esp), ProfileFile: f.profileFile, VersionFile: f.versionFile, VendorKeyFile: f.vendorKey,
		Booted: bootctl.Vars{Dir: f.efivars}.Selected}, f.stateDir, initagent.ControlClient{Socket: f.initControl}.Reboot, d.Event, log)
	backend := opsBackend{Daemon: d, Service: op.notes, firmware: fw, metrics: op.metrics, logs: logw, password: password}
	servers, err := serve(backend, cfg, id, f.socket, lic, log)
	if err != nil {
		return err
	}
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	go op.watch(runCtx, cfg.Hostname, backend.Status, lic)
	go func() {
		select {
		case <-restore.done:
			cancelRun()
		case <-runCtx.Done():
		}
	}()
	defer func() {
		// Let the restore request that ended the run get its answer.
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range servers {
			if err := s.Shutdown(shutCtx); err != nil {
				s.Close()
			}
		}
	}()
	err = d.Run(runCtx, func() {
		if _, err := sddaemon.SdNotify(false, sddaemon.SdNotifyReady); err != nil {
			log.Warn("readiness notification failed", "err", err)
		}
		log.Info("hmd ready", "role", cfg.Role, "version", version, "udi", udi, "socket", f.socket, "recovery", recovery)
	})
	select {
	case <-restore.done:
		if ctx.Err() == nil {
			return errRestored
		}
	default:
	}
	return err
}

// serve starts the local API on the unix socket (root only) and the remote
// API and the management console (package webui) over TLS on the
// health-monitor address.
func serve(d opsBackend, cfg config.Appliance, id tlsid.Identity, socket string, lic licenseFiles, log *slog.Logger) ([]*http.Server, error) {
	if err := os.MkdirAll(filepath.Dir(socket), 0o755); err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket: %w", err)
	}
	uln, err := net.Listen("unix", socket)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", socket, err)
	}
	if err := os.Chmod(socket, 0o600); err != nil {
		uln.Close()
		return nil, fmt.Errorf("protect %s: %w", socket, err)
	}
	// The console is built before the local API so that both APIs list
	// its sessions (getserverinfo asks the local one).
	hip := cfg.HealthMonitorIP()
	if hip.IsValid() {
		ui, err := newConsole(d, lic, log)
		if err != nil {
			uln.Close()
			return nil, err
		}
		d.console = ui
	}
	errLog := slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	local := &http.Server{Handler: api.NewHandler(d, api.Local{}, log), ErrorLog: errLog, ReadHeaderTimeout: 10 * time.Second}
	go local.Serve(uln)
	servers := []*http.Server{local}
	if !hip.IsValid() {
		log.Warn("no static health-monitor address: the remote API is off")
		return servers, nil
	}
	tln, err := net.Listen("tcp", netip.AddrPortFrom(hip, api.Port).String())
	if err != nil {
		local.Close()
		return nil, fmt.Errorf("listen on %s:%d: %w", hip, api.Port, err)
	}
	remote := api.ServeRemote(tln, remoteHandler(d, log), id.ServerTLS(), errLog, api.Limits{})
	return append(servers, remote), nil
}

// fileLimit is the RLIMIT_NOFILE hmd asks for: far above what the remote
// API's connection caps (api.Limits) and the replication listeners can hold,
// so that state writes always find a file descriptor.
const fileLimit = 65536

// raiseFileLimit sets hmd's open-file limit explicitly instead of inheriting
// whatever the init agent or a shell had (a 256 limit was once exhausted).
// If the hard limit cannot be raised (not root), the soft one goes up to it.
func raiseFileLimit(log *slog.Logger) {
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur); err != nil {
		log.Warn("read the open-file limit", "err", err)
		return
	}
	if cur.Cur >= fileLimit {
		return
	}
	want := syscall.Rlimit{Cur: fileLimit, Max: max(cur.Max, fileLimit)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		want = syscall.Rlimit{Cur: cur.Max, Max: cur.Max}
		if err2 := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err2 != nil {
			log.Warn("raise the open-file limit", "limit", cur.Cur, "err", errors.Join(err, err2))
			return
		}
		log.Warn("open-file limit below hmd's target", "limit", cur.Max, "want", fileLimit, "err", err)
	}
}

func readLine(path, fallback string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fallback
	}
	if s := strings.TrimSpace(string(data)); s != "" {
		return s
	}
	return fallback
}
