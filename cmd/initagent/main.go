// Command initagent is the appliance's /init (PID 1) and, on an ordinary
// Linux host, a systemd service (Type=notify). It only picks the Linux
// implementations and the paths; all logic is in package initagent.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/coreos/go-systemd/v22/journal"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/initagent"
	"github.com/hafw/hafw/internal/supervise"
	"github.com/hafw/hafw/logs"
	"github.com/hafw/hafw/osnet"
)

func main() {
	pid1 := os.Getpid() == 1
	paths := initagent.DefaultPaths()
	var manageNet bool
	if !pid1 {
		// Flags exist only off the appliance (systemd hosts and tests); the
		// kernel passes its own arguments to PID 1.
		fs := flag.NewFlagSet("initagent", flag.ExitOnError)
		fs.StringVar(&paths.Cmdline, "cmdline", paths.Cmdline, "kernel command line `file`")
		fs.StringVar(&paths.Etc, "etc", paths.Etc, "image files `dir` (profile, version, vendor.pub)")
		fs.StringVar(&paths.Data, "data", paths.Data, "data partition mount `dir`")
		fs.StringVar(&paths.Run, "run", paths.Run, "runtime `dir` for sockets")
		fs.StringVar(&paths.Bin, "bin", paths.Bin, "`dir` holding hmd and setup")
		fs.StringVar(&paths.ResolvConf, "resolv-conf", paths.ResolvConf, "resolv.conf `file` written from DHCP leases when managing the network")
		fs.BoolVar(&manageNet, "manage-network", false, "configure eth0/eth1 with netlink and DHCP (off: the host manages them)")
		fs.Parse(os.Args[1:])
	}
	log, files := newLogger(pid1)
	a := &initagent.Agent{
		PID1:    pid1,
		Paths:   paths,
		Sys:     initagent.LinuxSystem{},
		Console: os.Stdout,
		Log:     log,
		Backoff: supervise.DefaultBackoff(),
		HMD:     hmdClient{api.NewUnixClient(paths.HMDSocket())},
	}
	if files != nil {
		defer files.Close()
		a.DataMounted = func(dir string) {
			if err := files.Start(filepath.Join(dir, "logs")); err != nil {
				log.Warn("logs stay on the console", "err", err)
			}
		}
		a.DataUnmounting = func() {
			if err := files.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "initagent: warning: %v\n", err)
			}
		}
	}
	if pid1 {
		a.Clock = osnet.SystemClock{}
		manageNet = true
	} else {
		a.Notify = func(state string) error {
			_, err := daemon.SdNotify(false, state)
			return err
		}
		if d, err := daemon.SdWatchdogEnabled(false); err == nil && d > 0 {
			a.WatchdogInterval = d / 2
		}
	}
	if manageNet {
		host, err := osnet.NewHost(a.Log, osnet.WithResolvConf(paths.ResolvConf), osnet.WithDHCPWait(15*time.Second))
		if err != nil {
			fmt.Fprintf(os.Stderr, "initagent: warning: network not managed: %v\n", err)
		} else {
			defer host.Close()
			a.Network = host
		}
	}
	if err := a.Run(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "initagent: %v\n", err)
		os.Exit(1)
	}
}

// newLogger logs to the journal under systemd (which rotates and bounds
// it) and to the console as PID 1 (where it shares the console with the
// operator-facing lines) and, once the data partition is mounted, to
// initagent.log there: files is that log, nil under systemd.
func newLogger(pid1 bool) (*slog.Logger, *logs.Writer) {
	if !pid1 && journal.Enabled() {
		return slog.New(slog.NewTextHandler(journalWriter{}, nil)), nil
	}
	var files *logs.Writer
	var w io.Writer = os.Stderr
	if pid1 {
		files = logs.New(logs.Options{App: "initagent", Fallback: os.Stderr})
		w = io.MultiWriter(os.Stderr, files)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})), files
}

// journalWriter sends each log record to the journal.
type journalWriter struct{}

func (journalWriter) Write(p []byte) (int, error) {
	if err := journal.Send(string(p), journal.PriInfo, nil); err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	return len(p), nil
}
