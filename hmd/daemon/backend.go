package daemon

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/events"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/hmd/refusal"
	"github.com/hafw/hafw/hmd/replicate"
	"github.com/hafw/hafw/hmd/store"
	"github.com/hafw/hafw/hwprofiles"
)

// The daemon is the API's backend.
var _ api.Backend = (*Daemon)(nil)

// Status implements api.Backend.
func (d *Daemon) Status(ctx context.Context) (api.Status, error) {
	return call(ctx, d, func() (api.Status, error) {
		st := baseStatus(d.opt.Config, d.self())
		st.Running = true
		st.CertFingerprint = d.opt.Identity.Fingerprint
		st.Quarantined = d.quarantined
		rejects := d.heartbeatRejects()
		for _, p := range d.peers {
			hb := d.heartbeatStatus(p.cfg)
			ps := peerStatus(d.role() == ha.Primary, p.cfg, p.node, hb, rejects)
			applyVersion(&ps, d.opt.Version, hb)
			if w := d.quarantineWarning(p.cfg.HIP); w != "" {
				ps.Warnings = append(ps.Warnings, w)
			}
			if r, ok := d.opt.Data.(ReplicationReporter); ok && p.node.HoldsVIP {
				if rep, ok := r.Replication(p.cfg.InstanceSlot); ok {
					ps.Replication, ps.DataReplication = &rep, rep.State
					if rep.State == replicate.StateSettingUp {
						// A full copy or catch-up the replication layer
						// runs (a standby that lost its data, say) is a
						// sync too, with the layer's own progress.
						ps.Syncing, ps.SyncPercent = true, rep.Percent
					}
				}
			}
			now := time.Now()
			p.trackSync(ps.Syncing, ps.SyncPercent, now)
			if ps.Syncing {
				ps.SyncRemainingS = syncRemaining(p.syncFrom, p.syncFromPercent, now, ps.SyncPercent).Seconds()
			}
			st.Peers = append(st.Peers, ps)
		}
		st.State = overallState(d.opt.Config, st.Peers)
		if len(st.Peers) == 0 && !d.decision.Eligible() {
			st.State = api.StateNone
		}
		st.HARole, st.RoleReason = string(d.decision.Role), d.decision.Reason.String()
		st.Applications = d.applications()
		return st, nil
	})
}

// Events implements api.Backend; the log is safe to read off the loop.
func (d *Daemon) Events(_ context.Context, peer string, limit int) ([]events.Event, error) {
	return d.events.List(peer, limit), nil
}

// pick finds the relationship an operation names; "" is the only one.
func (d *Daemon) pick(peer string) (int, error) {
	if peer == "" {
		switch len(d.peers) {
		case 0:
			return -1, refusal.New(refusal.NotPaired, "this appliance is not paired")
		case 1:
			return 0, nil
		}
		return -1, invalid(refusal.PeerRequired, "peer", "this appliance has %d peers: name one by its health monitor IP", len(d.peers))
	}
	hip, err := netip.ParseAddr(peer)
	if err == nil {
		if i := d.byHIP(hip); i >= 0 {
			return i, nil
		}
	}
	return -1, invalid(refusal.UnknownPeer, "peer", "%s is not a paired peer", peer)
}

// invalid refuses a request's field, worded as the API words a bad field.
func invalid(reason refusal.Reason, field, format string, a ...any) error {
	return &refusal.Error{Reason: reason, Message: "invalid request", Fields: []refusal.Field{{Name: field, Reason: fmt.Sprintf(format, a...)}}}
}

// command steps an operator command and turns the state machine's refusal
// into the daemon's.
func (d *Daemon) command(ctx context.Context, peer string, ev ha.Event, name string) (api.Result, error) {
	return call(ctx, d, func() (api.Result, error) {
		i, err := d.pick(peer)
		if err != nil {
			return api.Result{}, err
		}
		d.step(i, ev)
		if len(d.refusals) > 0 {
			return api.Result{}, refusal.New(refusal.CommandRefused, "%s refused: %s", name, d.refusals[0].Reason)
		}
		p := d.peers[i]
		return api.Result{Message: fmt.Sprintf("%s accepted for peer %s; state %s", name, p.cfg.HIP, p.node.State)}, nil
	})
}

// Switchover implements api.Backend.
func (d *Daemon) Switchover(ctx context.Context, req api.PeerRequest) (api.Result, error) {
	return d.command(ctx, req.Peer, ha.Switchover{Force: req.Force}, "Switchover")
}

// Failback implements api.Backend.
func (d *Daemon) Failback(ctx context.Context, req api.PeerRequest) (api.Result, error) {
	return d.command(ctx, req.Peer, ha.Failback{Force: req.Force}, "Failback")
}

// pairDraft is what the loop hands the pairing call to the secondary.
type pairDraft struct {
	req api.PeerPairRequest
}

// Pair implements api.Backend: the management station's "configure the
// secondary" on a primary. The secondary checks everything it alone knows
// (its role, version, matrix with its other primaries, license, subnet);
// the primary checks the answer again before storing anything.
func (d *Daemon) Pair(ctx context.Context, req api.PairRequest) (api.Result, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return api.Result{}, fmt.Errorf("generate pairing secret: %w", err)
	}
	wait := time.Duration(req.LongFailoverWait)
	interval := time.Duration(req.HeartbeatInterval)
	if interval == 0 {
		interval = api.HeartbeatIntervalFor(wait)
	}
	draft, err := call(ctx, d, func() (pairDraft, error) {
		c := d.opt.Config
		switch {
		case c.Role != config.RolePrimary:
			return pairDraft{}, refusal.New(refusal.WrongRole, "only a primary configures its secondary; this appliance's role is %s", c.Role)
		case len(d.peers) > 0:
			return pairDraft{}, refusal.New(refusal.AlreadyPaired, "already paired with %s; delete the secondary first", d.peers[0].cfg.HIP)
		case !d.hip.IsValid():
			return pairDraft{}, refusal.New(refusal.NoStaticAddress, "this primary has no static health monitor address")
		}
		pr := api.PeerPairRequest{
			PrimaryName: c.Hostname, PrimaryHIP: d.hip.String(), VIP: c.VIP.String(),
			Version: d.opt.Version, UDI: d.opt.UDI, Profile: d.opt.Profile.Model,
			PairSettings: api.PairSettings{
				FailoverType: req.FailoverType, FailbackType: req.FailbackType,
				FailoverWaitMS: wait.Milliseconds(), HeartbeatIntervalMS: interval.Milliseconds(),
				WitnessRef: req.WitnessRef,
			},
			Secret: base64.StdEncoding.EncodeToString(secret),
		}
		if dc := d.directIP(); dc.IsValid() {
			pr.PrimaryDirectIP = dc.String()
		}
		return pairDraft{req: pr}, nil
	})
	if err != nil {
		return api.Result{}, err
	}
	secIP := netip.MustParseAddr(req.SecondaryIP)
	client := d.remote(secIP, req.SecondaryFingerprint, req.SecondaryPassword)
	defer client.CloseIdleConnections()
	resp, err := client.PeerPair(ctx, draft.req)
	if err != nil {
		return api.Result{}, relay(secIP, err, secondarySide)
	}
	fp := client.SeenFingerprint()
	cfg := withSettings(store.PeerConfig{
		Name: req.SecondaryName, HIP: secIP, VIP: d.opt.Config.VIP,
		Version: resp.Version, UDI: resp.UDI, Profile: resp.Profile, InstanceSlot: resp.InstanceSlot,
		Secret: secret, Fingerprint: fp, PairedAt: time.Now().UTC(),
	}, draft.req.PairSettings)
	if ip, err := netip.ParseAddr(resp.DirectIP); err == nil && d.directIP().IsValid() {
		cfg.DirectIP = ip
	}
	check := d.checkAnswer(resp, secIP)
	if check == nil {
		check = d.addPeer(ctx, cfg)
	}
	if check != nil {
		// Undo the secondary's half so that neither side is half paired.
		undo := d.remote(secIP, fp, "")
		if _, uerr := undo.PeerUnpair(ctx); uerr != nil {
			d.log.Error("undo pairing on the secondary", "secondary", secIP, "err", uerr)
		}
		undo.CloseIdleConnections()
		return api.Result{}, check
	}
	return api.Result{Message: fmt.Sprintf("Configuration successfully created: %s (%s) backs up this primary", req.SecondaryName, secIP)}, nil
}

// storedWitness is the pairing's witness as the store keeps it (the
// request was validated by the decoder).
func storedWitness(w api.WitnessRef) store.Witness {
	if w.Witness == "" {
		return store.Witness{}
	}
	return store.Witness{Addr: netip.MustParseAddr(w.Witness), Password: w.WitnessPassword, Pin: strings.ToLower(w.WitnessFingerprint)}
}

// checkAnswer re-checks the secondary's answer on the primary.
func (d *Daemon) checkAnswer(resp api.PeerPairResponse, secIP netip.Addr) error {
	if resp.HIP != secIP.String() {
		return refusal.New(refusal.PeerMismatch, "the secondary at %s reports health monitor IP %s", secIP, resp.HIP)
	}
	if resp.Version != d.opt.Version {
		return refusal.New(refusal.VersionMismatch, "the secondary runs version %s and this primary %s: both must run the same software version", resp.Version, d.opt.Version)
	}
	prof, err := hwprofiles.Lookup(resp.Profile)
	if err != nil {
		return refusal.New(refusal.UnsupportedPairing, "the secondary's model: %v", err)
	}
	if err := hwprofiles.CheckPairing(prof, d.opt.Profile); err != nil {
		return refusal.New(refusal.UnsupportedPairing, "%v", err)
	}
	return nil
}

// side is how the operator's messages name the appliance a call went to.
type side struct {
	// peer names it in "cannot reach the … at" and "the … refused";
	// role in the password's refusal and its form field (role_password).
	peer, role string
}

var (
	// secondarySide: a primary's calls to its (future) secondary.
	secondarySide = side{peer: "peer", role: "secondary"}
	// primarySide: a secondary's restore of its primary.
	primarySide = side{peer: "primary", role: "primary"}
)

// relay turns a failed call to the peer into the daemon's refusal: no
// answer, the operator's password refused, or the peer's own refusal
// (its message and fields, worded for this side).
func relay(peer netip.Addr, err error, s side) *refusal.Error {
	if api.PasswordRefused(err) {
		return &refusal.Error{Reason: refusal.PeerPassword, Message: fmt.Sprintf("the %s refused the password", s.role), Err: err,
			Fields: []refusal.Field{{Name: s.role + "_password", Reason: fmt.Sprintf("is not the %s's password", s.role)}}}
	}
	var ae *api.Error
	if !errors.As(err, &ae) {
		return &refusal.Error{Reason: refusal.PeerUnreachable, Message: fmt.Sprintf("cannot reach the %s at %s: %v", s.peer, peer, err), Err: err}
	}
	re := &refusal.Error{Reason: refusal.PeerRefused, Message: fmt.Sprintf("the %s %s refused: %s", s.peer, peer, ae.Message), Err: err}
	for _, f := range ae.Fields {
		re.Fields = append(re.Fields, refusal.Field{Name: f.Field, Reason: f.Reason})
	}
	return re
}

func (d *Daemon) remote(ip netip.Addr, pin, password string) *api.Client {
	return api.NewRemoteClient(ip, api.RemoteOptions{Pin: pin, ClientCert: &d.opt.Identity.Cert, Password: password, Timeout: d.opt.RemoteTimeout})
}

// addPeer stores a new relationship, creates its state machine and
// restarts the heartbeat monitor with it.
func (d *Daemon) addPeer(ctx context.Context, cfg store.PeerConfig) error {
	_, err := call(ctx, d, func() (struct{}, error) {
		if d.byHIP(cfg.HIP) >= 0 {
			return struct{}{}, refusal.New(refusal.AlreadyPaired, "already paired with %s", cfg.HIP)
		}
		if !d.decision.Eligible() {
			// A new primary serves at once (ha.New): not one that may
			// take no role.
			return struct{}{}, refusal.New(refusal.NoHARole, "this primary may take no HA role: %s", d.decision)
		}
		d.peers = append(d.peers, &peer{cfg: cfg})
		slices.SortFunc(d.peers, func(a, b *peer) int { return a.cfg.InstanceSlot - b.cfg.InstanceSlot })
		i := d.byHIP(cfg.HIP)
		if err := d.restartMonitor(); err != nil {
			d.peers = slices.Delete(d.peers, i, i+1)
			return struct{}{}, fmt.Errorf("start heartbeats: %w", err)
		}
		d.restore(i)
		d.solo()
		return struct{}{}, nil
	})
	return err
}

// AcceptPair implements api.Backend: the secondary's half of pairing.
func (d *Daemon) AcceptPair(ctx context.Context, req api.PeerPairRequest, primaryFP string) (api.PeerPairResponse, error) {
	return call(ctx, d, func() (api.PeerPairResponse, error) {
		existing := make([]store.PeerConfig, len(d.peers))
		for i, p := range d.peers {
			existing[i] = p.cfg
		}
		activated, err := d.opt.Activated()
		if err != nil {
			return api.PeerPairResponse{}, fmt.Errorf("check the activation license: %w", err)
		}
		if err := checkPair(pairCheck{own: d.opt.Config, version: d.opt.Version, profile: d.opt.Profile, activated: activated, existing: existing, req: req}); err != nil {
			return api.PeerPairResponse{}, err
		}
		secret, _ := base64.StdEncoding.DecodeString(req.Secret) // validated by the decoder
		cfg := withSettings(store.PeerConfig{
			Name: req.PrimaryName, HIP: netip.MustParseAddr(req.PrimaryHIP), VIP: netip.MustParsePrefix(req.VIP),
			Version: req.Version, UDI: req.UDI, Profile: req.Profile,
			InstanceSlot: freeSlot(existing), Secret: secret, Fingerprint: primaryFP, PairedAt: time.Now().UTC(),
		}, req.PairSettings)
		resp := api.PeerPairResponse{Name: d.opt.Config.Hostname, HIP: d.hip.String(), Version: d.opt.Version, UDI: d.opt.UDI, Profile: d.opt.Profile.Model, InstanceSlot: cfg.InstanceSlot}
		if dc := d.directIP(); dc.IsValid() {
			resp.DirectIP = dc.String()
			if ip, err := netip.ParseAddr(req.PrimaryDirectIP); err == nil {
				cfg.DirectIP = ip
			}
		}
		d.peers = append(d.peers, &peer{cfg: cfg})
		slices.SortFunc(d.peers, func(a, b *peer) int { return a.cfg.InstanceSlot - b.cfg.InstanceSlot })
		i := d.byHIP(cfg.HIP)
		if err := d.restartMonitor(); err != nil {
			d.peers = slices.Delete(d.peers, i, i+1)
			return api.PeerPairResponse{}, fmt.Errorf("start heartbeats: %w", err)
		}
		d.restore(i)
		return resp, nil
	})
}

// steadyForUnpair are the states in which deleting the pair loses nothing.
var steadyForUnpair = []ha.State{ha.PrimaryActive, ha.SecondaryActive, ha.StateInitializing, ha.GracefulShutdown}

// Unpair implements api.Backend: "delete the secondary", the only clean way
// to break a pair (seed). The peer is told first; with force the pairing is
// deleted locally even when the peer cannot be reached.
func (d *Daemon) Unpair(ctx context.Context, req api.PeerRequest) (api.Result, error) {
	cfg, err := call(ctx, d, func() (store.PeerConfig, error) {
		i, err := d.pick(req.Peer)
		if err != nil {
			return store.PeerConfig{}, err
		}
		p := d.peers[i]
		if !req.Force && !slices.Contains(steadyForUnpair, p.node.State) {
			return store.PeerConfig{}, refusal.New(refusal.CommandRefused, "the pair is in %s: fail back first, or force", p.node.State)
		}
		return p.cfg, nil
	})
	if err != nil {
		return api.Result{}, err
	}
	client := d.remote(cfg.HIP, cfg.Fingerprint, "")
	_, perr := client.PeerUnpair(ctx)
	client.CloseIdleConnections()
	if perr != nil && !req.Force {
		return api.Result{}, relay(cfg.HIP, perr, secondarySide)
	}
	if _, err := call(ctx, d, func() (struct{}, error) { return struct{}{}, d.removePeer(cfg.HIP) }); err != nil {
		return api.Result{}, err
	}
	msg := fmt.Sprintf("Pairing with %s deleted", cfg.HIP)
	if perr != nil {
		msg += fmt.Sprintf(" here only (the peer could not be told: %v)", perr)
	}
	return api.Result{Message: msg}, nil
}

// PeerUnpair implements api.Backend: the peer deleted the pairing.
func (d *Daemon) PeerUnpair(ctx context.Context, fp string) (api.Result, error) {
	return call(ctx, d, func() (api.Result, error) {
		for _, p := range d.peers {
			if p.cfg.Fingerprint == fp {
				hip := p.cfg.HIP
				return api.Result{Message: "pairing deleted"}, d.removePeer(hip)
			}
		}
		return api.Result{}, refusal.New(refusal.NotAPeer, "not a paired peer")
	})
}

// removePeer drops a relationship. A secondary gives up the VIP and the
// instance it served for that primary; a primary keeps serving alone.
func (d *Daemon) removePeer(hip netip.Addr) error {
	i := d.byHIP(hip)
	if i < 0 {
		return nil
	}
	p := d.peers[i]
	if d.role() == ha.Secondary {
		if p.node.HoldsVIP {
			if err := d.opt.VIP.Release(p.cfg.VIP); err != nil {
				d.fault(p, "Virtual IP could not be removed", err)
			}
		}
		d.instance(p, false)
	}
	if err := d.store.Delete(hip); err != nil {
		return err
	}
	d.peers = slices.Delete(d.peers, i, i+1)
	if err := d.events.Append(events.Event{Time: time.Now(), Peer: hip.String(), Description: "Configuration deleted", GeneratedBy: d.role().GeneratedBy(), Remarks: "peer " + hip.String()}); err != nil {
		d.log.Error("append event", "err", err)
	}
	d.queue = slices.DeleteFunc(d.queue, func(q queued) bool { return q.hip == hip })
	d.solo()
	return d.restartMonitor()
}
