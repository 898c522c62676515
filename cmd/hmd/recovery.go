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

// roleDecider gathers appliance.DecideRole's inputs for this run: the
// configuration, hafw.recovery, whether a pairing was stored at start, and
// the licenses installed now (read again at every call, so that the daemon
// sees a license installed or removed).
type roleDecider struct {
	cfg              config.Appliance
	recovery, paired bool
	lic              licenseFiles
}

// Decide implements daemon.Options.Decide.
func (r roleDecider) Decide() (appliance.Decision, error) {
	d, _, err := r.decide()
	return d, err
}

func (r roleDecider) decide() (appliance.Decision, appliance.Entitlement, error) {
	ent, err := r.lic.entitlement()
	if err != nil {
		// Unreadable licenses activate nothing; the decision says so.
		err = fmt.Errorf("read licenses: %w", err)
	}
	return appliance.DecideRole(r.cfg, ent, r.recovery, r.paired), ent, err
}

// decide is appliance.DecideRole at start: the flag (hafw.recovery on the
// kernel command line) or the configuration may ask for recovery mode, but
// a state directory that holds a pairing has been restored already (or
// never lost): then recovery mode is over and hmd runs normally, so a
// supervisor that restarts hmd with the same --recovery flag does not
// throw the restored pairing away.
func decide(flag bool, cfg config.Appliance, lic licenseFiles, stateDir string, log *slog.Logger) (appliance.Decision, roleDecider, error) {
	// A damaged peer file is not a pairing: the daemon moves it aside.
	peers, _, err := store.Store{Dir: stateDir}.LoadChecked()
	if err != nil {
		return appliance.Decision{}, roleDecider{}, err
	}
	r := roleDecider{cfg: cfg, recovery: flag, paired: len(peers) > 0, lic: lic}
	d, ent, err := r.decide()
	if err != nil {
		log.Error("decide the HA role", "err", err)
	}
	for _, p := range ent.Problems {
		log.Warn("license ignored", "err", p)
	}
	switch d.Reason {
	case appliance.Recovery:
		log.Warn("HA recovery mode: no HA role until the secondary restores this primary's pairing (hactl recover on the secondary)")
	case appliance.RecoveryComplete:
		log.Warn("recovery mode requested, but a pairing is stored: recovery is complete, running normally", "peer", peers[0].Config.HIP)
	}
	return d, r, nil
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
