package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/hafw/hafw/appliance"
	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/store"
)

// errRestored ends one run of the daemon after a restore in recovery mode:
// main starts it again, now as the paired primary, without waiting for the
// supervisor (which may still pass --recovery; see recovering).
var errRestored = errors.New("pairing restored from the secondary: restarting as the primary")

// decide is appliance.DecideRole for this run: the flag (hafw.recovery on
// the kernel command line) or the configuration may ask for recovery mode,
// but a state directory that holds a pairing has been restored already (or
// never lost): then recovery mode is over and hmd runs normally, so a
// supervisor that restarts hmd with the same --recovery flag does not
// throw the restored pairing away.
func decide(flag bool, cfg config.Appliance, lic licenseFiles, stateDir string, log *slog.Logger) (appliance.Decision, error) {
	// A damaged peer file is not a pairing: the daemon moves it aside.
	peers, _, err := store.Store{Dir: stateDir}.LoadChecked()
	if err != nil {
		return appliance.Decision{}, err
	}
	ent, err := lic.entitlement()
	if err != nil {
		// Unreadable licenses activate nothing; the decision says so.
		log.Error("read licenses", "err", err)
	}
	d := appliance.DecideRole(cfg, ent, flag, len(peers) > 0)
	switch d.Reason {
	case appliance.Recovery:
		log.Warn("HA recovery mode: no HA role until the secondary restores this primary's pairing (hactl recover on the secondary)")
	case appliance.RecoveryComplete:
		log.Warn("recovery mode requested, but a pairing is stored: recovery is complete, running normally", "peer", peers[0].Config.HIP)
	case appliance.Configured:
	default:
		log.Warn(d.String(), "configured_role", cfg.Role, "reason", d.Reason)
	}
	return d, nil
}

// restorer leaves recovery mode once the daemon stored a restored pairing:
// it makes the configuration on disk a primary's with the pair's VIP and
// recovery mode off (atomically), then signals the restart.
type restorer struct {
	path string
	once sync.Once
	done chan struct{}
}

func newRestorer(path string) *restorer { return &restorer{path: path, done: make(chan struct{})} }

// restored implements daemon.Options.Restored.
func (r *restorer) restored(vip netip.Prefix) error {
	cfg, err := config.Load(r.path)
	if err != nil {
		return fmt.Errorf("read the configuration: %w", err)
	}
	if cfg.Role == config.RoleSecondary {
		return fmt.Errorf("the configuration in %s says this appliance is a secondary; only a primary is restored from its secondary", r.path)
	}
	cfg.Role, cfg.VIP, cfg.RecoveryMode = config.RolePrimary, vip, false
	if err := config.Save(r.path, cfg); err != nil {
		return fmt.Errorf("save the configuration as a primary with VIP %s: %w", vip, err)
	}
	r.once.Do(func() { close(r.done) })
	return nil
}
