package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/appmon"
	"github.com/hafw/hafw/hmd/instance"
	"github.com/hafw/hafw/hmd/replicate"
	"github.com/hafw/hafw/hmd/store"
	"github.com/hafw/hafw/internal/tlsid"
)

// instanceFlags configure the service instance and data replication.
type instanceFlags struct {
	dir, socket, appsFile, mode string
	port                        int
}

// newInstanceService builds the instance of this appliance: databases
// under the data partition's instance directory, replication on the
// health-monitor address, the applications listed in appsFile. Unset
// paths follow hmd's own (so /data/hmd gives /data/instance, and
// /run/hafw/hmd.sock gives /run/hafw/instance.sock): several hmds on one
// machine, as in tests, never share a database.
func newInstanceService(f instanceFlags, stateDir, hmdSocket string, cfg config.Appliance, id tlsid.Identity, onCommit func(time.Duration), log *slog.Logger) (*instance.Service, error) {
	if f.dir == "" {
		f.dir = filepath.Join(filepath.Dir(filepath.Clean(stateDir)), "instance")
	}
	if f.socket == "" {
		f.socket = filepath.Join(filepath.Dir(hmdSocket), filepath.Base(instance.DefaultSocket))
	}
	mode, err := replicate.ParseMode(f.mode)
	if err != nil {
		return nil, configError{fmt.Errorf("--protection-mode: %w", err)}
	}
	apps, err := readApps(f.appsFile)
	if err != nil {
		return nil, configError{err}
	}
	st := store.Store{Dir: stateDir}
	return instance.NewService(instance.ServiceOptions{
		Dir: f.dir, Listen: cfg.HealthMonitorIP(), Port: f.port, Identity: id, Mode: mode,
		Socket: f.socket, Apps: apps, Log: log.With("component", "instance"), OnCommit: onCommit,
		Peers: func() ([]store.PeerConfig, error) {
			peers, err := st.Load()
			out := make([]store.PeerConfig, 0, len(peers))
			for _, p := range peers {
				out = append(out, p.Config)
			}
			return out, err
		},
	})
}

// readApps reads the applications file (appmon.Parse: JSON with health
// checks and policy, or one command line per line); a missing file means
// no applications.
func readApps(path string) (appmon.Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return appmon.Parse(nil)
	}
	if err != nil {
		return appmon.Config{}, fmt.Errorf("read applications: %w", err)
	}
	c, err := appmon.Parse(data)
	if err != nil {
		return appmon.Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
