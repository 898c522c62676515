package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/daemon"
	"github.com/hafw/hafw/hmd/metrics"
	"github.com/hafw/hafw/hmd/webui"
	"github.com/hafw/hafw/internal/atomicfile"
	"github.com/hafw/hafw/logs"
	"github.com/hafw/hafw/notify"
)

// opsBackend is what the API and the console serve: the daemon, plus the
// operations side that lives off the HA loop (trap destinations and
// notification rules, firmware upgrades, the metrics token, the console's
// sessions).
type opsBackend struct {
	*daemon.Daemon
	*notify.Service
	*firmware
	metrics  *metrics.Metrics
	logs     *hmdLogs
	password *api.Password
	// console is the management console, nil when it is not served (no
	// static health-monitor address).
	console *webui.Server
}

// Status is the daemon's status with the boot slots added.
func (b opsBackend) Status(ctx context.Context) (api.Status, error) {
	st, err := b.Daemon.Status(ctx)
	if err != nil {
		return st, err
	}
	if fw, err := b.firmware.UpgradeStatus(ctx); err == nil {
		st.Firmware = &fw
	}
	return st, nil
}

// Sessions implements api.SessionsBackend: the console's logged-in
// browsers, none when there is no console.
func (b opsBackend) Sessions() []api.Session {
	if b.console == nil {
		return nil
	}
	return b.console.Sessions()
}

// MetricsToken implements api.MetricsBackend.
func (b opsBackend) MetricsToken() string { return b.metrics.MetricsToken() }

// The wrapper must keep every optional API of the daemon and add the
// operations routes; a name clash between the two would hide one.
var (
	_ api.NotifyBackend    = opsBackend{}
	_ api.MetricsBackend   = opsBackend{}
	_ api.LogsBackend      = opsBackend{}
	_ api.RecoveryBackend  = opsBackend{}
	_ api.WitnessBackend   = opsBackend{}
	_ api.SecondaryBackend = opsBackend{}
	_ api.UpgradeBackend   = opsBackend{}
	_ api.SessionsBackend  = opsBackend{}
)

// opsRoutes adds /metrics to the TLS server's routes.
func (b opsBackend) opsRoutes(mux *http.ServeMux) {
	mux.Handle(metrics.Path, b.metrics.Handler())
}

// ops is the operations side before the daemon exists.
type ops struct {
	stateDir string
	log      *slog.Logger
	notes    *notify.Service
	observer *notify.HA
	metrics  *metrics.Metrics
}

// openOps opens the notification service and the metrics on the data
// partition (notify.json holds SNMP secrets and metrics.token the
// scrapers' token, both 0600 in the state directory). status is read
// lazily: the daemon is made after this.
func openOps(stateDir string, cfg config.Appliance, lic licenseFiles, auth api.Authenticator, status func(context.Context) (api.Status, error), log *slog.Logger) (*ops, error) {
	s, err := notify.Open(notify.Options{Path: filepath.Join(stateDir, "notify.json"), Node: cfg.Hostname, Log: log})
	if err != nil {
		return nil, err
	}
	m, err := metrics.Open(metrics.Options{Status: status, Destinations: s.Destinations, Licenses: lic.expiries,
		TokenFile: filepath.Join(stateDir, "metrics.token"),
		Auth:      auth})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	s.Subscribe(m.Count)
	return &ops{stateDir: stateDir, log: log, notes: s, observer: &notify.HA{Classifier: notify.Classifier{Node: cfg.Hostname}, Service: s}, metrics: m}, nil
}

// reading lists the verified licenses and the files that failed
// verification, for the license notifications.
func (l licenseFiles) reading() ([]notify.LicenseReading, []string) {
	if _, err := l.files.Store(l.id); err != nil {
		// No key is a problem only for licenses that exist: an appliance
		// without any has nothing to verify.
		if files, _ := os.ReadDir(l.files.Dir); len(files) > 0 {
			return nil, []string{err.Error()}
		}
		return nil, nil
	}
	e, err := l.entitlement()
	if err != nil {
		return nil, []string{err.Error()}
	}
	out := make([]notify.LicenseReading, 0, len(e.Licenses))
	for _, v := range e.Licenses {
		out = append(out, notify.LicenseReading{ID: v.ID, Feature: string(v.Feature), Expires: v.Expires})
	}
	msgs := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		msgs = append(msgs, p.Error())
	}
	return out, msgs
}

// expiries lists the verified licenses' expiry dates for the metrics.
func (l licenseFiles) expiries() ([]metrics.License, error) {
	e, err := l.entitlement()
	if err != nil {
		return nil, err
	}
	out := make([]metrics.License, 0, len(e.Licenses))
	for _, v := range e.Licenses {
		out = append(out, metrics.License{ID: v.ID, Feature: string(v.Feature), Expires: v.Expires})
	}
	return out, nil
}

// hmdLogs is hmd's log writer: files on the data partition and the syslog
// collector the notification settings name (once they are open).
type hmdLogs struct {
	*logs.Writer
	dir   string
	notes atomic.Pointer[notify.Service]
}

// openLogs starts logging to the data partition; a directory that cannot
// be made is said on stderr and hmd runs on (logs are not worth an HA
// outage).
func openLogs(f flags, stderr io.Writer) *hmdLogs {
	l := &hmdLogs{dir: f.logDir}
	if l.dir == "" {
		l.dir = filepath.Join(filepath.Dir(f.stateDir), "logs")
	}
	l.Writer = logs.New(logs.Options{App: "hmd", Fallback: stderr, Syslog: func() *notify.Syslog {
		if s := l.notes.Load(); s != nil {
			return s.Syslog()
		}
		return nil
	}})
	if err := l.Start(l.dir); err != nil {
		fmt.Fprintf(stderr, "hmd: logs stay off the data partition: %v\n", err)
	}
	return l
}

// Logs implements api.LogsBackend.
func (b opsBackend) Logs(n int) (api.LogsView, error) {
	lines, err := logs.Tail(b.logs.dir, "hmd", n)
	if err != nil {
		return api.LogsView{}, err
	}
	if lines == nil {
		lines = []string{}
	}
	return api.LogsView{Status: b.logs.Status(), Lines: lines}, nil
}

// watchInterval is how often watch reads the status and the licenses.
const watchInterval = 5 * time.Second

// rollbackReportedFile in the state directory names the last failed
// upgrade the operators were told of (notify.Watcher.ReportedRollback).
const rollbackReportedFile = "rollback-reported"

// watch sends the notifications that come from readings rather than from
// the state machine's events (replication, single heartbeat paths,
// licenses) until ctx ends. A failed reading is skipped: the next one
// compares with the last good one.
func (o *ops) watch(ctx context.Context, node string, status func(context.Context) (api.Status, error), lic licenseFiles) {
	w := &notify.Watcher{Node: node}
	reported := filepath.Join(o.stateDir, rollbackReportedFile)
	if b, err := os.ReadFile(reported); err == nil {
		w.ReportedRollback = strings.TrimSpace(string(b))
	}
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := status(ctx)
		if err != nil {
			continue
		}
		r := notify.Reading{Time: time.Now()}
		for _, p := range st.Peers {
			pr := notify.PeerReading{Peer: p.HealthMonitorIP, Paths: map[string]bool{}}
			if p.Replication != nil {
				pr.Replication = p.Replication.State
			}
			for _, hp := range p.HeartbeatPaths {
				pr.Paths[hp.Name] = hp.Up
			}
			r.Peers = append(r.Peers, pr)
		}
		r.Licenses, r.LicenseProblems = lic.reading()
		if st.Firmware != nil {
			r.Firmware = []notify.SlotReading{}
			for _, sl := range st.Firmware.Slots {
				r.Firmware = append(r.Firmware, notify.SlotReading{Name: sl.Name, Version: sl.Version, State: sl.State, Failure: sl.Failure,
					Seq: sl.Seq, Active: sl.Active, Trial: sl.Trial})
			}
		}
		before := w.ReportedRollback
		o.notes.Publish(w.Observe(r)...)
		if w.ReportedRollback != before {
			if err := atomicfile.Write(reported, []byte(w.ReportedRollback+"\n"), 0o600); err != nil {
				// Told once per hmd start, then: a lesser evil than never.
				o.log.Warn("the rollback notification may repeat at the next start", "err", err)
			}
		}
	}
}
