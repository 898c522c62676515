package daemon

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/netip"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/events"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/hmd/refusal"
	"github.com/hafw/hafw/hmd/store"
)

// The daemon takes part in recovery mode.
var _ api.RecoveryBackend = (*Daemon)(nil)

// Event descriptions of a restore (the seed has no wording for them).
const (
	MsgRestoredToPrimary     = "Configuration restored to the primary"
	MsgRestoredFromSecondary = "Configuration restored from the secondary"
)

// Recover implements api.RecoveryBackend on the secondary: push the pairing
// it holds for the primary at req.PrimaryIP to that primary, which runs in
// recovery mode, then pin the primary's new certificate. The secondary's
// own state is left alone: if it serves in FAILOVER_ACTIVE it keeps
// serving, and the restored primary comes back TERMINATED.
func (d *Daemon) Recover(ctx context.Context, req api.RecoverRequest) (api.Result, error) {
	hip := netip.MustParseAddr(req.PrimaryIP) // validated by the decoder
	restore, err := call(ctx, d, func() (api.RestoreRequest, error) {
		if d.opt.Config.Role != config.RoleSecondary {
			return api.RestoreRequest{}, refusal.New(refusal.WrongRole, "only a secondary restores a primary's configuration; this appliance's role is %s", d.opt.Config.Role)
		}
		i := d.byHIP(hip)
		if i < 0 {
			return api.RestoreRequest{}, &refusal.Error{Reason: refusal.NoPairing, Message: fmt.Sprintf("this secondary holds no pairing for the primary %s", hip),
				Fields: []refusal.Field{{Name: "primary_ip", Reason: "is not a primary this secondary backs up"}}}
		}
		return d.restoreRequest(d.peers[i].cfg), nil
	})
	if err != nil {
		return api.Result{}, err
	}
	client := d.remote(hip, req.PrimaryFingerprint, req.PrimaryPassword)
	defer client.CloseIdleConnections()
	if _, err := client.PeerRestore(ctx, restore); err != nil {
		return api.Result{}, relay(hip, err, primarySide)
	}
	fp := client.SeenFingerprint()
	return call(ctx, d, func() (api.Result, error) {
		i := d.byHIP(hip)
		if i < 0 {
			return api.Result{}, refusal.New(refusal.NoPairing, "the pairing with %s was deleted during the restore", hip)
		}
		p := d.peers[i]
		p.cfg.Fingerprint = fp
		_ = d.persist(p) // logged
		d.appendEvent(hip, ha.Secondary, MsgRestoredToPrimary, "primary "+hip.String()+" restarts paired; its new certificate "+fp[:16]+"… is pinned")
		return api.Result{Message: fmt.Sprintf("Configuration restored to the primary %s; it rejoins in %s", hip, rejoinState(p.node))}, nil
	})
}

// rejoinState is what the restored primary will show first, for the
// operator's message.
func rejoinState(secondary ha.Node) ha.State {
	if secondary.HoldsVIP {
		return ha.Terminated
	}
	return ha.StateInitializing
}

// restoreRequest replays the pairing exchange from the secondary's side.
func (d *Daemon) restoreRequest(c store.PeerConfig) api.RestoreRequest {
	r := api.RestoreRequest{
		Pairing: api.PeerPairRequest{
			PrimaryName: c.Name, PrimaryHIP: c.HIP.String(), VIP: c.VIP.String(),
			Version: c.Version, UDI: c.UDI, Profile: c.Profile,
			PairSettings: settingsOf(c),
			Secret:       base64.StdEncoding.EncodeToString(c.Secret),
		},
		Secondary: api.PeerPairResponse{
			Name: d.opt.Config.Hostname, HIP: d.hip.String(), Version: d.opt.Version, UDI: d.opt.UDI,
			Profile: d.opt.Profile.Model, InstanceSlot: c.InstanceSlot,
		},
	}
	if c.DirectIP.IsValid() {
		r.Pairing.PrimaryDirectIP = c.DirectIP.String()
		if dc := d.directIP(); dc.IsValid() {
			r.Secondary.DirectIP = dc.String()
		}
	}
	return r
}

// Restore implements api.RecoveryBackend on a primary in recovery mode: it
// stores the pairing its secondary sent, pinning the secondary's
// certificate, as TERMINATED — a restarted primary that is TERMINATED never
// claims the VIP while the secondary serves, and serves again by itself
// only when the secondary is up and does not (ha.Started). Then
// Options.Restored makes this appliance a primary again; if it fails the
// stored pairing is removed, so the appliance stays as it was.
func (d *Daemon) Restore(ctx context.Context, req api.RestoreRequest, secondaryFP string) (api.Result, error) {
	return call(ctx, d, func() (api.Result, error) {
		if !d.opt.Recovery || d.opt.Restored == nil {
			return api.Result{}, refusal.New(refusal.NotInRecovery, "%s is not in recovery mode: a pairing is restored only onto a primary that lost its configuration and booted in recovery mode", d.opt.Config.Hostname)
		}
		pr, sec := req.Pairing, req.Secondary
		switch {
		case pr.PrimaryHIP != d.hip.String():
			return api.Result{}, refusal.New(refusal.PeerMismatch, "the secondary sent the pairing of the primary %s, but this appliance's health monitor IP is %s", pr.PrimaryHIP, d.hip)
		case sec.Version != d.opt.Version:
			return api.Result{}, refusal.New(refusal.VersionMismatch, "the secondary runs version %s and this primary %s: both must run the same software version", sec.Version, d.opt.Version)
		}
		if stored, err := d.store.Load(); err != nil {
			return api.Result{}, err
		} else if len(stored) > 0 {
			return api.Result{}, refusal.New(refusal.AlreadyPaired, "this appliance still holds a pairing with %s: nothing to restore", stored[0].Config.HIP)
		}
		secret, _ := base64.StdEncoding.DecodeString(pr.Secret) // validated by the decoder
		cfg := withSettings(store.PeerConfig{
			Name: sec.Name, HIP: netip.MustParseAddr(sec.HIP), VIP: netip.MustParsePrefix(pr.VIP),
			Version: sec.Version, UDI: sec.UDI, Profile: sec.Profile,
			InstanceSlot: sec.InstanceSlot, Secret: secret, Fingerprint: secondaryFP, PairedAt: time.Now().UTC(),
		}, pr.PairSettings)
		if ip, err := netip.ParseAddr(sec.DirectIP); err == nil && d.directIP().IsValid() {
			cfg.DirectIP = ip
		}
		if err := d.store.Save(store.Peer{Config: cfg, Node: ha.Node{State: ha.Terminated}}); err != nil {
			return api.Result{}, err
		}
		if err := d.opt.Restored(cfg.VIP); err != nil {
			if derr := d.store.Delete(cfg.HIP); derr != nil {
				d.log.Error("undo the restored pairing", "err", derr)
			}
			return api.Result{}, fmt.Errorf("leave recovery mode: %w", err)
		}
		d.appendEvent(cfg.HIP, ha.Primary, MsgRestoredFromSecondary, fmt.Sprintf("secondary %s (%s); leaving recovery mode", cfg.Name, cfg.HIP))
		return api.Result{Message: fmt.Sprintf("pairing with the secondary %s restored; leaving recovery mode", cfg.HIP)}, nil
	})
}

func (d *Daemon) appendEvent(peer netip.Addr, by ha.Role, desc, remarks string) {
	if err := d.events.Append(events.Event{Time: time.Now(), Peer: peer.String(), Description: desc, GeneratedBy: by.GeneratedBy(), Remarks: remarks}); err != nil {
		d.log.Error("append event", "err", err)
	}
}

// The recovering primary can ask its secondary for the restore.
var _ api.RecoveryRequester = (*Daemon)(nil)

// RecoverFromSecondary implements api.RecoveryRequester on a primary in
// recovery mode: it asks the secondary (at the certificate the operator
// confirmed) to restore this primary, naming this primary's address and
// certificate, so that the secondary pins it at once. The secondary's
// restore comes back here (Restore) while this call waits, so it runs
// outside the daemon's loop.
func (d *Daemon) RecoverFromSecondary(ctx context.Context, req api.RecoverFromRequest) (api.Result, error) {
	if !d.opt.Recovery || d.opt.Restored == nil {
		return api.Result{}, refusal.New(refusal.NotInRecovery, "%s is not in recovery mode: only a primary that lost its configuration and booted in recovery mode asks its secondary for it", d.opt.Config.Hostname)
	}
	if !d.hip.IsValid() {
		return api.Result{}, refusal.New(refusal.NoStaticAddress, "this appliance has no static health monitor address for the secondary to restore")
	}
	ip := netip.MustParseAddr(req.SecondaryIP) // validated by the decoder
	c := d.remote(ip, req.SecondaryFingerprint, req.SecondaryPassword)
	defer c.CloseIdleConnections()
	res, err := c.Recover(ctx, api.RecoverRequest{PrimaryIP: d.hip.String(), PrimaryPassword: req.PrimaryPassword, PrimaryFingerprint: d.opt.Identity.Fingerprint})
	if err != nil {
		return api.Result{}, relay(ip, err, secondarySide)
	}
	d.log.Info("configuration restored from the secondary", "secondary", ip, "result", res.Message)
	return res, nil
}
