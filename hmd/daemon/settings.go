package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/hmd/refusal"
	"github.com/hafw/hafw/hmd/store"
	"github.com/hafw/hafw/internal/humantime"
)

// The pair's settings can change after pairing.
var _ api.SettingsBackend = (*Daemon)(nil)

// MsgConfigurationUpdated is the events-log row of a settings change (the
// seed's "Configuration updated | Failover mode set to AUTOMATIC.").
const MsgConfigurationUpdated = "Configuration updated"

// settingsOf is a stored pairing's settings as the peers exchange them.
func settingsOf(c store.PeerConfig) api.PairSettings {
	s := api.PairSettings{
		FailoverType: string(c.FailoverType), FailbackType: string(c.FailbackType),
		FailoverWaitMS: c.FailoverWait.Milliseconds(), HeartbeatIntervalMS: c.HeartbeatInterval.Milliseconds(),
	}
	if w := c.Witness; w.Addr.IsValid() {
		s.WitnessRef = api.WitnessRef{Witness: w.Addr.String(), WitnessPassword: w.Password, WitnessFingerprint: w.Pin}
	}
	return s
}

// withSettings is c with the settings s (validated by the decoder).
func withSettings(c store.PeerConfig, s api.PairSettings) store.PeerConfig {
	c.FailoverType, c.FailbackType = ha.Mode(s.FailoverType), ha.Mode(s.FailbackType)
	c.FailoverWait, c.HeartbeatInterval = s.FailoverWait(), s.HeartbeatInterval()
	c.Witness = storedWitness(s.WitnessRef)
	return c
}

// settingChanges words what differs between two configurations of a pair,
// one sentence per setting, as the events log's remarks say it.
func settingChanges(old, next store.PeerConfig) []string {
	var out []string
	if old.FailoverType != next.FailoverType {
		out = append(out, fmt.Sprintf("Failover mode set to %s.", strings.ToUpper(string(next.FailoverType))))
	}
	if old.FailbackType != next.FailbackType {
		out = append(out, fmt.Sprintf("Failback mode set to %s.", strings.ToUpper(string(next.FailbackType))))
	}
	if old.FailoverWait != next.FailoverWait {
		out = append(out, fmt.Sprintf("Long failover wait set to %s.", humantime.Duration(next.FailoverWait)))
	}
	if old.HeartbeatInterval != next.HeartbeatInterval {
		out = append(out, fmt.Sprintf("Heartbeat interval set to %s.", humantime.Duration(next.HeartbeatInterval)))
	}
	switch ow, nw := old.Witness, next.Witness; {
	case ow == nw:
	case !nw.Addr.IsValid():
		out = append(out, "Witness removed.")
	case ow.Addr != nw.Addr:
		out = append(out, fmt.Sprintf("Witness set to %s.", nw.Addr))
	default:
		out = append(out, fmt.Sprintf("Witness %s password or fingerprint changed.", nw.Addr))
	}
	return out
}

// pairWitness applies pairing's witness rule (checkWitness) to a new
// witness of the pair with c, on either side.
func (d *Daemon) pairWitness(c store.PeerConfig, witness string) error {
	if witness == "" {
		return nil
	}
	hm, err := d.opt.Config.Port(d.opt.Config.HealthMonitorInterface)
	if err != nil || !hm.Static() {
		return refusal.New(refusal.NoStaticAddress, "this appliance has no static health-monitor address")
	}
	return checkWitness(witness, d.hip, c.HIP, c.VIP.Addr(), hm.Address.Masked(), "this appliance's")
}

// settingsDraft is what the loop hands the call to the peer.
type settingsDraft struct {
	cfg  store.PeerConfig
	next api.PairSettings
}

// UpdateSettings implements api.SettingsBackend: the operator's change of
// a pair's settings, on either side. The peer takes the new settings
// first; this side takes them only once the peer has, so a peer that
// refuses or cannot be reached leaves both sides as they were.
func (d *Daemon) UpdateSettings(ctx context.Context, req api.SettingsRequest) (api.Result, error) {
	draft, err := call(ctx, d, func() (settingsDraft, error) {
		i, err := d.pick(req.Peer)
		if err != nil {
			return settingsDraft{}, err
		}
		cfg := d.peers[i].cfg
		next, err := req.Apply(settingsOf(cfg))
		if err != nil {
			return settingsDraft{}, err
		}
		return settingsDraft{cfg: cfg, next: next}, d.pairWitness(cfg, next.Witness)
	})
	if err != nil {
		return api.Result{}, err
	}
	if len(settingChanges(draft.cfg, withSettings(draft.cfg, draft.next))) == 0 {
		return api.Result{Message: fmt.Sprintf("No setting changed for peer %s", draft.cfg.HIP)}, nil
	}
	client := d.remote(draft.cfg.HIP, draft.cfg.Fingerprint, "")
	_, perr := client.PeerSettings(ctx, api.PeerSettingsRequest{PairSettings: draft.next})
	client.CloseIdleConnections()
	if perr != nil {
		re := relay(draft.cfg.HIP, perr, secondarySide)
		re.Message = "nothing was changed here: " + re.Message
		return api.Result{}, re
	}
	changed, err := call(ctx, d, func() ([]string, error) { return d.applySettings(draft.cfg.HIP, draft.next) })
	if err != nil {
		return api.Result{}, fmt.Errorf("the peer %s took the new settings but this appliance did not: %w", draft.cfg.HIP, err)
	}
	return api.Result{Message: fmt.Sprintf("Configuration updated on both appliances: %s", strings.Join(changed, " "))}, nil
}

// PeerSettings implements api.SettingsBackend: the peer changed the
// pair's settings and asks this side to take them first.
func (d *Daemon) PeerSettings(ctx context.Context, req api.PeerSettingsRequest, fp string) (api.Result, error) {
	return call(ctx, d, func() (api.Result, error) {
		for _, p := range d.peers {
			if p.cfg.Fingerprint != fp {
				continue
			}
			if err := d.pairWitness(p.cfg, req.Witness); err != nil {
				return api.Result{}, err
			}
			changed, err := d.applySettings(p.cfg.HIP, req.PairSettings)
			if err != nil {
				return api.Result{}, err
			}
			return api.Result{Message: "configuration updated: " + strings.Join(changed, " ")}, nil
		}
		return api.Result{}, refusal.New(refusal.NotAPeer, "not a paired peer")
	})
}

// applySettings gives the pair with hip the settings s without a
// restart: the state machine's configuration at once, the heartbeat
// monitor restarted when the timing changed, the pairing stored
// atomically, and a "Configuration updated" row naming each change. It
// runs on the loop; a failure leaves the pair as it was.
func (d *Daemon) applySettings(hip netip.Addr, s api.PairSettings) ([]string, error) {
	i := d.byHIP(hip)
	if i < 0 {
		return nil, refusal.New(refusal.NoPairing, "the pairing with %s was deleted", hip)
	}
	p := d.peers[i]
	old := p.cfg
	next := withSettings(old, s)
	changed := settingChanges(old, next)
	if len(changed) == 0 {
		return nil, nil
	}
	timing := next.FailoverWait != old.FailoverWait || next.HeartbeatInterval != old.HeartbeatInterval
	set := func(c store.PeerConfig) error {
		p.cfg = c
		p.node.Config = d.haConfig(c)
		if err := d.persist(p); err != nil {
			return err
		}
		if !timing {
			return nil
		}
		if err := d.restartMonitor(); err != nil {
			return fmt.Errorf("restart the heartbeats: %w", err)
		}
		return nil
	}
	if err := set(next); err != nil {
		if uerr := set(old); uerr != nil {
			d.log.Error("restore the pair's settings", "peer", hip, "err", uerr)
		}
		return nil, err
	}
	remarks := strings.Join(changed, " ")
	d.log.Info("configuration updated", "peer", hip, "changes", remarks)
	d.appendEvent(hip, d.role(), MsgConfigurationUpdated, remarks)
	return changed, nil
}
