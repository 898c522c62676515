// Package daemon is hmd: one event loop per appliance that feeds the HA
// state machine (package ha) with heartbeats, timers, API commands and
// probe results, saves each relationship's node atomically after every
// step, and hands the resulting actions to the executors — the VIP
// executor, the heartbeat monitor, the events log, and the hooks for the
// service instance and data replication.
//
// VIP ownership is decided only by ha.Step and applied only by the VIP
// executor; at start-up every VIP this node knows of is removed before the
// loop runs, because a restarted node owns nothing until the state machine
// says so.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/hafw/hafw/appliance"
	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/events"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/hmd/heartbeat"
	"github.com/hafw/hafw/hmd/store"
	"github.com/hafw/hafw/hwprofiles"
	"github.com/hafw/hafw/internal/tlsid"
	"github.com/hafw/hafw/licensing"
)

// HeartbeatPort is the UDP port of heartbeats on every path.
const HeartbeatPort = 8443

// VIPExecutor applies VIP ownership (package vip in production).
type VIPExecutor interface {
	Hold(vip netip.Prefix) error
	Release(vip netip.Prefix) error
	Quiet(vip netip.Prefix)
	Reconcile(vips []netip.Prefix) error
	Owner(ctx context.Context, ip netip.Addr) (string, error)
	Reachable(ctx context.Context, ip, self netip.Addr) bool
}

// Instance starts and stops the service instance of a pair. The
// daemon calls it off its event loop, one operation at a time, and reports
// the outcome to the state machine as InstanceStarted or InstanceStopped;
// Start returns once the instance serves, which is when the node reports
// PRIMARY_ACTIVE or FAILOVER_ACTIVE. Start gets the node's failover epoch:
// the instance database writes in it from then on, which is how a
// returning node's unacknowledged writes are told apart (package
// replicate).
type Instance interface {
	Start(ctx context.Context, slot int, epoch uint64) error
	Stop(ctx context.Context, slot int) error
}

// Replicator starts a data sync towards the peer and reports
// progress through the callback, ending with done=true. The callback blocks
// until the event loop takes the report, so it must be called from the
// replicator's own goroutine, never from within Start.
type Replicator interface {
	Start(ctx context.Context, peer store.PeerConfig, kind ha.SyncKind, epoch uint64, progress func(percent int, done bool))
}

// ReplicationReporter is implemented by a Replicator that knows the live
// state of what it ships (the state machine only hears progress up to the
// first complete sync); Status shows it.
type ReplicationReporter interface {
	Replication(slot int) (api.Replication, bool)
}

// NoInstance is the instance hook of a daemon run without a service
// (the default): nothing to start, so starting and stopping always succeed
// at once.
type NoInstance struct{}

// Start implements Instance.
func (NoInstance) Start(context.Context, int, uint64) error { return nil }

// Stop implements Instance.
func (NoInstance) Stop(context.Context, int) error { return nil }

// NoData is the replication hook of a daemon run without a service (the
// default): there is no data, so every sync is complete at once.
type NoData struct{}

// Start implements Replicator.
func (NoData) Start(_ context.Context, _ store.PeerConfig, _ ha.SyncKind, _ uint64, progress func(int, bool)) {
	go progress(100, true)
}

// Options are everything the daemon needs from outside; cmd/hmd picks the
// Linux implementations.
type Options struct {
	Config   config.Appliance
	StateDir string
	Version  string
	UDI      string
	Profile  hwprofiles.Profile
	// Activated reports whether this appliance holds its activation
	// license (licensing.Summary.Activated); asked at pairing time.
	Activated func() (bool, error)
	// Decide is appliance.DecideRole for this appliance with the licenses
	// installed now. The daemon asks it at start, every EligibilityEvery
	// and after a license is installed through its API, gives the verdict
	// to the state machine (ha.Eligibility) and serves no VIP it does not
	// allow. Nil takes the configured role.
	Decide func() (appliance.Decision, error)
	// InstallLicense verifies and installs a license file on this
	// appliance (licensing.Store.Install); nil refuses uploads through the
	// API (secondary.go).
	InstallLicense LicenseInstaller
	Identity       tlsid.Identity
	VIP            VIPExecutor
	Instance       Instance
	Data           Replicator
	Log            *slog.Logger
	// HeartbeatPort overrides HeartbeatPort (tests).
	HeartbeatPort int
	// StabilizationWindow overrides the seed's 30 minutes (tests).
	StabilizationWindow time.Duration
	// GracefulTimeout overrides ha's default (tests).
	GracefulTimeout time.Duration
	// AppHoldDown is how long an application failure keeps this node
	// degraded (the applications file's policy; ha's default when zero).
	AppHoldDown time.Duration
	// RemoteTimeout bounds calls to the peer's API (30 s when zero: the
	// peer checks a PBKDF2 password on pairing, seconds on a small or
	// emulated appliance that is busy syncing).
	RemoteTimeout time.Duration
	// Recovery is set in recovery mode: the appliance holds no HA role and
	// accepts its pairing back from its secondary (Restore).
	Recovery bool
	// Restored is called in recovery mode once a restored pairing with its
	// VIP is stored; it makes the appliance a primary again (cmd/hmd
	// saves the configuration and restarts the daemon). An error undoes
	// the restore.
	Restored func(vip netip.Prefix) error
	// Observer, if set, hears state changes and events (notifications).
	Observer Observer
	// HeartbeatRTT, if set, gets every heartbeat round trip (metrics); it
	// is called on the heartbeat receiver and must be quick.
	HeartbeatRTT func(peer netip.Addr, path string, rtt time.Duration)
	// RemoveActivation deletes the installed activation licenses and
	// returns them (none: nothing was installed); nil refuses it through
	// the API (activation.go).
	RemoveActivation func() ([]licensing.License, error)
}

// peer is one relationship at run time.
type peer struct {
	cfg  store.PeerConfig
	node ha.Node
	// lastOwnerProbe paces the VIP check while holding it with the peer
	// silent (a split brain heartbeats cannot see).
	lastOwnerProbe time.Time
	// saved is the node as last written to the store (nil: not yet).
	saved *ha.Node
	// skew is the version difference last logged ("" none; versions.go).
	skew string
	// syncFrom is when the running data sync was first seen, and at what
	// percentage: the estimate's pace is measured from there. Zero when
	// none runs.
	syncFrom        time.Time
	syncFromPercent int
}

// persist writes p's configuration and node to the store.
func (d *Daemon) persist(p *peer) error {
	if err := d.store.Save(store.Peer{Config: p.cfg, Node: p.node}); err != nil {
		d.log.Error("save state", "peer", p.cfg.HIP, "err", err)
		return err
	}
	saved := p.node
	p.saved = &saved
	return nil
}

// changedBeyondHeardAt reports whether now differs from saved in anything
// but the peer's last-heard time.
func changedBeyondHeardAt(saved, now ha.Node) bool {
	now.Peer.HeardAt = saved.Peer.HeardAt
	return now != saved
}

// Daemon is a running hmd.
type Daemon struct {
	opt    Options
	log    *slog.Logger
	store  store.Store
	events *events.Log
	hip    netip.Addr
	gw     netip.Addr

	calls chan func()
	// ctx lives from New to the end of Run: goroutines started by actions
	// and API calls waiting for the loop end with it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// divergent maps a peer's address to the remarks of the last
	// quarantine of divergent writes in its pair (this run).
	divergent sync.Map

	// Owned by the loop goroutine.
	peers    []*peer
	queue    []queued
	refusals []ha.Refused
	mon      *monitor
	hbEvents chan heartbeat.Event
	// soloVIP is set while a primary without peers holds its own VIP.
	soloVIP bool
	// decision is the last role decision (Options.Decide); decideErr the
	// last error that came with one, logged once; started is set once Run
	// has applied the first decision.
	decision  appliance.Decision
	decideErr string
	started   bool
	// recheck asks recheckEligibility for a decision now.
	recheck chan struct{}
	// instanceDone is closed when the last instance start or stop asked
	// for has finished; the next one waits for it.
	instanceDone chan struct{}
	// quarantined are the damaged state files New moved aside (read-only
	// after New).
	quarantined []string
}

type queued struct {
	hip netip.Addr
	ev  ha.Event
}

// New loads the saved state and prepares the daemon; Run starts it.
func New(opt Options) (*Daemon, error) {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Instance == nil {
		opt.Instance = NoInstance{}
	}
	if opt.Data == nil {
		opt.Data = NoData{}
	}
	if opt.HeartbeatPort == 0 {
		opt.HeartbeatPort = HeartbeatPort
	}
	if opt.RemoteTimeout == 0 {
		opt.RemoteTimeout = 30 * time.Second
	}
	d := &Daemon{opt: opt, log: opt.Log, store: store.Store{Dir: opt.StateDir}, calls: make(chan func()), instanceDone: make(chan struct{}), recheck: make(chan struct{}, 1)}
	close(d.instanceDone)
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.hip = opt.Config.HealthMonitorIP()
	if hm, err := opt.Config.Port(opt.Config.HealthMonitorInterface); err == nil {
		d.gw = hm.Gateway
	}
	peers, err := d.openState()
	if err != nil {
		return nil, err
	}
	if opt.Config.Role == config.RoleNone && len(peers) > 0 {
		// An appliance without an HA role (setup changed it, or recovery
		// mode) must not act on old pairings; they stay on disk.
		d.log.Warn("no HA role: saved pairings are ignored", "pairings", len(peers))
		peers = nil
	}
	for _, p := range peers {
		d.peers = append(d.peers, &peer{cfg: p.Config, node: p.Node})
	}
	if err := d.store.SaveSelf(d.self()); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Daemon) eventsPath() string { return d.opt.StateDir + "/" + events.File }

func (d *Daemon) self() store.Self {
	return store.Self{Hostname: d.opt.Config.Hostname, Version: d.opt.Version, UDI: d.opt.UDI, Profile: d.opt.Profile.Model}
}

func (d *Daemon) role() ha.Role {
	if d.opt.Config.Role == config.RoleSecondary {
		return ha.Secondary
	}
	return ha.Primary
}

func (d *Daemon) haConfig(c store.PeerConfig) ha.Config {
	return ha.Config{
		Role:                d.role(),
		Peer:                c.HIP.String(),
		FailoverType:        c.FailoverType,
		FailbackType:        c.FailbackType,
		FailoverWait:        c.FailoverWait,
		StabilizationWindow: d.opt.StabilizationWindow,
		GracefulTimeout:     d.opt.GracefulTimeout,
		Witness:             d.witnessed(c),
		AppHoldDown:         d.opt.AppHoldDown,
	}
}

// knownVIPs is every VIP this node could hold.
func (d *Daemon) knownVIPs() []netip.Prefix {
	var out []netip.Prefix
	if d.opt.Config.VIP.IsValid() {
		out = append(out, d.opt.Config.VIP)
	}
	for _, p := range d.peers {
		if p.cfg.VIP.IsValid() && p.cfg.VIP != d.opt.Config.VIP {
			out = append(out, p.cfg.VIP)
		}
	}
	return out
}

// Run is the event loop. It returns after ctx ends and the graceful
// shutdown (GRACEFUL_SHUTDOWN told to every peer, state saved, VIPs
// released) is done; ready is called once the loop accepts API calls.
func (d *Daemon) Run(ctx context.Context, ready func()) error {
	defer d.wg.Wait()
	defer d.cancel()

	if err := d.opt.VIP.Reconcile(d.knownVIPs()); err != nil {
		d.log.Error("start-up VIP reconcile", "err", err)
	}
	d.hbEvents = make(chan heartbeat.Event, 64)
	d.Event(netip.Addr{}, MsgStarted, d.startRemarks())
	for i := range d.peers {
		d.restore(i)
	}
	d.setDecision(d.decide())
	// Heartbeats start only now: what was saved (PRIMARY_ACTIVE holding
	// the VIP, say) is not what this run holds until Started is applied,
	// and a peer that heard it would see a split brain that is not there.
	if err := d.restartMonitor(); err != nil {
		return err
	}
	d.started = true
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.recheckEligibility(d.ctx)
	}()
	d.drain()
	if ready != nil {
		ready()
	}
	period := d.tickEvery()
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			d.shutdown()
			return nil
		case f := <-d.calls:
			f()
		case e := <-d.hbEvents:
			if i := d.byPair(e.Pair); i >= 0 {
				d.step(i, e.Event)
			}
		case <-tick.C:
			d.onTick()
		}
		d.drain()
		// Only a new period resets the ticker: resetting on every event
		// would starve the ticks while events keep coming.
		if p := d.tickEvery(); p != period {
			period = p
			tick.Reset(period)
		}
	}
}

// MsgStarted is the events-log row of every start of hmd (the seed's boot
// line), so that an operator reading the log sees this appliance's own
// restarts next to what its peers made of them.
const MsgStarted = "Health Monitor successfully started"

// startRemarks says what started and how the previous run ended, per
// relationship, from the saved states: a state other than
// GRACEFUL_SHUTDOWN means that run was killed, crashed or lost power.
func (d *Daemon) startRemarks() string {
	parts := []string{"version " + d.opt.Version}
	for _, p := range d.peers {
		switch p.node.State {
		case "":
		case ha.GracefulShutdown:
			parts = append(parts, fmt.Sprintf("peer %s: stopped gracefully", p.cfg.HIP))
		default:
			parts = append(parts, fmt.Sprintf("peer %s: the last run ended without a graceful shutdown, in %s", p.cfg.HIP, p.node.State))
		}
	}
	return strings.Join(parts, "; ")
}

// tickEvery is a quarter of the shortest failover wait (ha asks for ticks
// at least that often), between 10 ms and one second.
func (d *Daemon) tickEvery() time.Duration {
	every := time.Second
	for _, p := range d.peers {
		every = min(every, p.cfg.FailoverWait/4)
	}
	return max(every, 10*time.Millisecond)
}

func (d *Daemon) onTick() {
	now := time.Now()
	for i, p := range d.peers {
		d.feedReplica(i)
		d.step(i, ha.Tick{})
		d.checkVersion(p)
		// While holding the VIP with the peer silent, check now and then
		// that nobody else answers for it.
		if p.node.HoldsVIP && !p.node.Peer.Up && now.Sub(p.lastOwnerProbe) >= p.cfg.FailoverWait {
			p.lastOwnerProbe = now
			d.probeVIP(p.cfg)
		}
	}
}

// restore gives a saved node its Started event, or creates the node of a
// relationship that has none yet.
func (d *Daemon) restore(i int) {
	p := d.peers[i]
	if p.node.State == "" {
		var acts []ha.Action
		p.node, acts = ha.New(d.haConfig(p.cfg), time.Now())
		d.save(p)
		d.execute(p, acts)
	} else {
		p.node.Config = d.haConfig(p.cfg)
		d.step(i, ha.Started{})
	}
	if !d.decision.Reason.Eligible() {
		d.step(i, ha.Eligibility{Reason: d.decision.Reason})
	}
}

// solo makes a primary without peers serve its own VIP while the role
// decision allows it (and releases it when the decision withdraws the
// role), and a primary whose pairing was just deleted keep it.
func (d *Daemon) solo() {
	alone := d.role() == ha.Primary && len(d.peers) == 0 && d.opt.Config.VIP.IsValid() && d.opt.Config.Role == config.RolePrimary
	want := alone && d.decision.Eligible()
	if want == d.soloVIP {
		return
	}
	d.soloVIP = want
	switch {
	case want:
		if err := d.opt.VIP.Hold(d.opt.Config.VIP); err != nil {
			d.log.Error("hold VIP", "err", err)
		}
	case alone:
		if err := d.opt.VIP.Release(d.opt.Config.VIP); err != nil {
			d.log.Error("release VIP", "err", err)
		}
	}
}

func (d *Daemon) byPair(pair string) int {
	for i, p := range d.peers {
		if d.pairID(p.cfg) == pair {
			return i
		}
	}
	return -1
}

func (d *Daemon) byHIP(hip netip.Addr) int {
	for i, p := range d.peers {
		if p.cfg.HIP == hip {
			return i
		}
	}
	return -1
}

// pairID names a relationship the same way on both sides.
func (d *Daemon) pairID(c store.PeerConfig) string {
	if d.role() == ha.Primary {
		return d.hip.String() + "/" + c.HIP.String()
	}
	return c.HIP.String() + "/" + d.hip.String()
}

// post queues an event from another goroutine (probe results, hooks).
func (d *Daemon) post(hip netip.Addr, ev ha.Event) {
	d.onLoop(func() { d.queue = append(d.queue, queued{hip, ev}) })
}

// onLoop has another goroutine's f run on the loop goroutine, unless the
// daemon has ended.
func (d *Daemon) onLoop(f func()) {
	select {
	case d.calls <- f:
	case <-d.ctx.Done():
	}
}

// drain steps the queued events in order.
func (d *Daemon) drain() {
	for len(d.queue) > 0 {
		q := d.queue[0]
		d.queue = d.queue[1:]
		if i := d.byHIP(q.hip); i >= 0 {
			d.step(i, q.ev)
		}
	}
}

// step runs one event through the state machine of relationship i, saves
// the node, tells the heartbeat monitor what we now are, and executes the
// actions.
func (d *Daemon) step(i int, ev ha.Event) {
	nodes := make([]ha.Node, len(d.peers))
	for j, p := range d.peers {
		nodes[j] = p.node
	}
	out, acts := ha.StepGroup(nodes, i, ev, time.Now())
	p := d.peers[i]
	before := p.node
	p.node = out[i]
	if before.State != p.node.State {
		d.log.Info("state change", "peer", p.cfg.HIP, "from", before.State, "to", p.node.State, "event", fmt.Sprintf("%T", ev))
	}
	d.save(p)
	d.execute(p, acts)
	if before.State != p.node.State {
		// After the step's events-log rows: their causes come first.
		d.observeChange(p, before.State, ev)
	}
}

// save persists p's node, atomically and synced, when it differs from
// what is on disk in more than when the peer was last heard: that changes
// with every heartbeat and is stale after a restart anyway (a restored node
// waits for a fresh heartbeat). Writing it every time cost an fsync per
// heartbeat, 140 KB/s per node at a 200 ms failover wait, which wears an
// appliance's flash for nothing.
func (d *Daemon) save(p *peer) {
	if p.saved == nil || changedBeyondHeardAt(*p.saved, p.node) {
		_ = d.persist(p) // logged; the next step tries again
	}
	if d.mon != nil {
		d.mon.setLocal(d.pairID(p.cfg), p.node)
	}
}

// execute carries out actions in order. A failing executor is logged and
// recorded as an event; it never stops the loop.
func (d *Daemon) execute(p *peer, acts []ha.Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case ha.AddVIP:
			d.soloVIP = false
			if err := d.opt.VIP.Hold(p.cfg.VIP); err != nil {
				d.fault(p, "Virtual IP could not be added", err)
			}
		case ha.RemoveVIP:
			if err := d.opt.VIP.Release(p.cfg.VIP); err != nil {
				d.fault(p, "Virtual IP could not be removed", err)
			}
		case ha.AnnounceVIP:
			if err := d.opt.VIP.Hold(p.cfg.VIP); err != nil {
				d.fault(p, "Virtual IP could not be added", err)
			}
		case ha.QuietVIP:
			d.opt.VIP.Quiet(p.cfg.VIP)
		case ha.StartInstance:
			d.instance(p, true)
		case ha.StopInstance:
			d.instance(p, false)
		case ha.Sync:
			cfg, hip := p.cfg, p.cfg.HIP
			d.opt.Data.Start(d.ctx, cfg, a.Kind, a.Epoch, func(pct int, done bool) {
				var ev ha.Event = ha.ReplicationProgress{Percent: pct}
				if done {
					ev = ha.ReplicationSynced{}
				}
				d.post(hip, ev)
			})
		case ha.SendState:
			if d.mon != nil {
				d.mon.sendNow(d.pairID(p.cfg))
			}
		case ha.ProbeVIP:
			d.probeVIP(p.cfg)
		case ha.ProbeGateway:
			d.probeGateway(p.cfg.HIP)
		case ha.AskWitness:
			d.askWitness(p.cfg)
		case ha.AskPeerClaim:
			d.askPeerClaim(p.cfg)
		case ha.AppendEvent:
			r := a.Record
			if err := d.events.Append(events.Event{Time: r.Time, Peer: p.cfg.HIP.String(), Description: r.Description, GeneratedBy: r.GeneratedBy, Remarks: r.Remarks}); err != nil {
				d.log.Error("append event", "err", err)
			}
			d.observeRecord(p, r)
		case ha.Refused:
			d.refusals = append(d.refusals, a)
		}
	}
}

func (d *Daemon) fault(p *peer, what string, err error) {
	d.log.Error(what, "peer", p.cfg.HIP, "err", err)
	if aerr := d.events.Append(events.Event{Time: time.Now(), Peer: p.cfg.HIP.String(), Description: what, GeneratedBy: d.role().GeneratedBy(), Remarks: err.Error()}); aerr != nil {
		d.log.Error("append event", "err", aerr)
	}
}

// instance starts or stops p's service instance off the loop goroutine:
// starting waits until the applications are ready to serve, and the
// heartbeats must not wait with it. Operations still run one at a time in
// the order the state machine asked for them. The outcome comes back to
// the loop as InstanceStarted or InstanceStopped, or as a fault.
func (d *Daemon) instance(p *peer, start bool) {
	prev, done := d.instanceDone, make(chan struct{})
	d.instanceDone = done
	hip, slot, epoch := p.cfg.HIP, p.cfg.InstanceSlot, p.node.Epoch
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer close(done)
		<-prev
		var err error
		if start {
			err = d.opt.Instance.Start(d.ctx, slot, epoch)
		} else {
			// A stop is carried out even while hmd shuts down.
			err = d.opt.Instance.Stop(context.WithoutCancel(d.ctx), slot)
		}
		d.onLoop(func() {
			i := d.byHIP(hip)
			if i < 0 {
				return
			}
			p := d.peers[i]
			switch {
			case err != nil && start:
				d.fault(p, "Application instance could not be started", err)
			case err != nil:
				d.fault(p, "Application instance could not be stopped", err)
			case start:
				d.queue = append(d.queue, queued{hip, ha.InstanceStarted{}})
			default:
				d.queue = append(d.queue, queued{hip, ha.InstanceStopped{}})
			}
		})
	}()
}

func (d *Daemon) probeVIP(c store.PeerConfig) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		owner, err := d.opt.VIP.Owner(d.ctx, c.VIP.Addr())
		if err != nil {
			d.log.Warn("VIP probe failed", "vip", c.VIP, "err", err)
			return
		}
		probe := ha.VIPProbe{Owner: owner}
		if owner != "" {
			// Is it the peer (heartbeats lost, LAN fine) or a stranger?
			peerMAC, err := d.opt.VIP.Owner(d.ctx, c.HIP)
			probe.ByPeer = err == nil && peerMAC == owner
		}
		d.post(c.HIP, probe)
	}()
}

// probeGateway is the isolation vote: a node that cannot reach its own
// default gateway is probably the one cut off. Without a configured
// gateway there is nothing to ask, and the vote is given (logged).
func (d *Daemon) probeGateway(hip netip.Addr) {
	if !d.gw.IsValid() {
		d.log.Warn("no default gateway on the health-monitor interface: the isolation vote is not checked")
		d.queue = append(d.queue, queued{hip, ha.GatewayProbe{Reachable: true}})
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.post(hip, ha.GatewayProbe{Reachable: d.opt.VIP.Reachable(d.ctx, d.gw, d.hip)})
	}()
}

// shutdown is the orderly stop: every relationship goes to
// GRACEFUL_SHUTDOWN (released VIP, peer told at once), state is saved.
func (d *Daemon) shutdown() {
	for i := range d.peers {
		d.step(i, ha.ShutdownRequested{})
	}
	d.queue = nil
	if d.soloVIP {
		if err := d.opt.VIP.Release(d.opt.Config.VIP); err != nil {
			d.log.Error("release VIP", "err", err)
		}
	}
	// Give the GRACEFUL_SHUTDOWN heartbeats a moment on the wire.
	if d.mon != nil {
		for _, p := range d.peers {
			d.mon.sendNow(d.pairID(p.cfg))
		}
		d.mon.stop()
	}
	d.log.Info("hmd stopped gracefully")
}

// call runs f on the loop goroutine and waits for it.
func call[T any](ctx context.Context, d *Daemon, f func() (T, error)) (T, error) {
	var (
		res  T
		err  error
		done = make(chan struct{})
	)
	wrapped := func() {
		defer close(done)
		d.refusals = nil
		res, err = f()
		d.drain()
	}
	select {
	case d.calls <- wrapped:
	case <-ctx.Done():
		return res, ctx.Err()
	case <-d.ctx.Done():
		return res, errors.New("hmd is shutting down")
	}
	<-done
	return res, err
}
