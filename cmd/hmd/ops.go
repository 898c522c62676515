package main

import (
	"log/slog"
	"path/filepath"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/daemon"
	"github.com/hafw/hafw/notify"
)

// opsBackend is what the API and the console serve: the daemon, plus the
// operations side that lives off the HA loop (trap destinations and
// notification rules).
type opsBackend struct {
	*daemon.Daemon
	*notify.Service
}

// openNotify opens the notification service on the data partition; its
// settings hold SNMP secrets, hence 0600 in the state directory.
func openNotify(stateDir string, cfg config.Appliance, log *slog.Logger) (*notify.Service, *notify.HA, error) {
	s, err := notify.Open(notify.Options{Path: filepath.Join(stateDir, "notify.json"), Node: cfg.Hostname, Log: log})
	if err != nil {
		return nil, nil, err
	}
	return s, &notify.HA{Classifier: notify.Classifier{Node: cfg.Hostname}, Service: s}, nil
}

// The wrapper must keep every optional API of the daemon and add the
// notification routes; a name clash between the two would hide one.
var (
	_ api.NotifyBackend    = opsBackend{}
	_ api.RecoveryBackend  = opsBackend{}
	_ api.WitnessBackend   = opsBackend{}
	_ api.SecondaryBackend = opsBackend{}
)
