package instance

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/appmon"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/hmd/replicate"
	"github.com/hafw/hafw/hmd/store"
	"github.com/hafw/hafw/internal/tlsid"
)

// BasePort + slot is the replication port of an instance slot (the seed's
// instance database ports start at 1521).
const BasePort = 1521

// replicationKeepAlive finds a standby that vanished while the pair was
// idle (power lost: no RST, nothing to ship, so no acknowledgement is
// missed) within about 6 s, so that the replication reads Down — and the
// operator is told — instead of Up for as long as no write comes.
var replicationKeepAlive = net.KeepAliveConfig{Enable: true, Idle: 3 * time.Second, Interval: time.Second, Count: 3}

// ServiceOptions wire the instance into hmd.
type ServiceOptions struct {
	// Dir holds one database per slot (config.Layout.InstanceDir()).
	Dir string
	// Listen is the health-monitor address the standby listens on.
	Listen netip.Addr
	// Port overrides BasePort (tests).
	Port     int
	Identity tlsid.Identity
	// Peers lists the pairings (hmd's store): the slots to serve and the
	// certificates a replication peer may present.
	Peers func() ([]store.PeerConfig, error)
	Mode  replicate.Mode
	// Socket is the instance API socket of the serving slot.
	Socket string
	// Apps are the applications started while serving, their health
	// checks and failure policy (the applications file).
	Apps appmon.Config
	// AckTimeout, ProtectionWait and StallTimeout tune replication
	// (replicate's defaults when zero).
	AckTimeout, ProtectionWait, StallTimeout time.Duration
	Log                                      *slog.Logger
	// OnCommit hears each committed transaction's latency (Options).
	OnCommit func(time.Duration)
}

// Service is the instance of every slot of this appliance. Its Hooks
// implement hmd's instance and replication hooks.
type Service struct {
	opt  ServiceOptions
	apps *Apps

	mu    sync.Mutex
	slots map[int]*slot
	// serving is the slot whose instance runs here (0: none; one at a
	// time, as N:1 allows).
	serving    int
	stopServer context.CancelFunc
	serverDone chan struct{}
	// events receives this layer's events-log rows (nil: hmd's log only).
	events EventSink
}

type slot struct {
	n       int
	db      *DB
	standby *replicate.Standby
	active  *replicate.Active
	// stopActive ends the active side's goroutines and waits for them.
	stopActive func()
	// progress is the daemon's callback of the latest Sync, nil once done.
	progress func(percent int, done bool)
	report   chan replicate.Status
}

// NewService prepares the service; Run starts its listeners.
func NewService(opt ServiceOptions) (*Service, error) {
	if opt.Dir == "" || opt.Peers == nil || opt.Socket == "" {
		return nil, errors.New("instance service needs Dir, Peers and Socket")
	}
	if _, err := replicate.ParseMode(string(opt.Mode)); err != nil {
		return nil, err
	}
	if opt.Port == 0 {
		opt.Port = BasePort
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	return &Service{opt: opt, slots: map[int]*slot{},
		apps: &Apps{Config: opt.Apps, Socket: opt.Socket, RunDir: filepath.Dir(opt.Socket), Log: opt.Log}}, nil
}

// slot opens (once) the database and standby of slot n.
func (s *Service) slot(n int) (*slot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl, ok := s.slots[n]; ok {
		return sl, nil
	}
	dir := filepath.Join(s.opt.Dir, strconv.Itoa(n))
	db, err := Open(filepath.Join(dir, "instance.db"), Options{OnCommit: s.opt.OnCommit})
	if err != nil {
		return nil, err
	}
	sb, err := replicate.NewStandby(replicate.StandbyOptions{Log: db, QuarantineDir: filepath.Join(dir, "quarantine"),
		StallTimeout: s.opt.StallTimeout, Logger: s.opt.Log.With("slot", n),
		OnQuarantine: func(path string, entries int) {
			s.event(n, MsgQuarantined, fmt.Sprintf("%d entries kept in %s", entries, path))
		}})
	if err != nil {
		db.Close()
		return nil, err
	}
	sl := &slot{n: n, db: db, standby: sb}
	s.slots[n] = sl
	return sl, nil
}

// SetEvents makes sink receive this layer's events-log rows from now on
// (hmd sets it once its daemon, which owns the events log, exists).
func (s *Service) SetEvents(sink EventSink) {
	s.mu.Lock()
	s.events = sink
	s.mu.Unlock()
	s.apps.SetReport(appReport{s})
}

// event logs a row concerning slot n in hmd's log and, once a sink is set,
// in the events log under the pairing of that slot.
func (s *Service) event(n int, description, remarks string) {
	s.opt.Log.Info(description, "slot", n, "remarks", remarks)
	s.mu.Lock()
	sink := s.events
	s.mu.Unlock()
	if sink == nil {
		return
	}
	sink.Event(s.peerOf(n), description, remarks)
}

// peerOf is the health-monitor address of the pairing of slot n (invalid
// when none).
func (s *Service) peerOf(n int) netip.Addr {
	peers, err := s.opt.Peers()
	if err != nil {
		s.opt.Log.Error("instance events: read pairings", "err", err)
	}
	for _, p := range peers {
		if p.InstanceSlot == n {
			return p.HIP
		}
	}
	return netip.Addr{}
}

// Run listens for replication on every paired slot (looking for new
// pairings every second) until ctx ends, then stops everything.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		s.closeAll()
	}()
	listening := map[int]bool{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		peers, err := s.opt.Peers()
		if err != nil {
			s.opt.Log.Error("instance service: read pairings", "err", err)
		}
		for _, p := range peers {
			if listening[p.InstanceSlot] || !s.opt.Listen.IsValid() {
				continue
			}
			ln, err := s.listen(p.InstanceSlot)
			if err != nil {
				s.opt.Log.Error("replication listener", "slot", p.InstanceSlot, "err", err)
				continue
			}
			listening[p.InstanceSlot] = true
			sl, err := s.slot(p.InstanceSlot)
			if err != nil {
				ln.Close()
				s.opt.Log.Error("instance database", "slot", p.InstanceSlot, "err", err)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := sl.standby.ServeListener(ctx, ln); err != nil {
					s.opt.Log.Error("replication listener stopped", "slot", sl.n, "err", err)
				}
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// listen opens slot n's TLS listener.
func (s *Service) listen(n int) (net.Listener, error) {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(s.opt.Listen, uint16(s.opt.Port+n)).String())
	if err != nil {
		return nil, fmt.Errorf("listen for replication: %w", err)
	}
	return tls.NewListener(ln, s.serverTLS(n)), nil
}

// serverTLS accepts only a certificate paired for slot n at the time of
// each connection: a peer unpaired since it last connected is refused.
func (s *Service) serverTLS(n int) *tls.Config {
	cfg := replicate.PinnedTLS(s.opt.Identity, func(fp string) error {
		peers, err := s.opt.Peers()
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(peers, func(p store.PeerConfig) bool { return p.InstanceSlot == n && p.Fingerprint == fp }) {
			return fmt.Errorf("replication client certificate %s is not paired for slot %d", fp, n)
		}
		return nil
	})
	cfg.ClientAuth = tls.RequireAnyClientCert
	return cfg
}

func (s *Service) closeAll() {
	s.mu.Lock()
	slots := s.slots
	s.mu.Unlock()
	s.apps.Stop(context.Background())
	s.stopServing()
	for _, sl := range slots {
		s.mu.Lock()
		stop := sl.stopActive
		sl.stopActive = nil
		s.mu.Unlock()
		if stop != nil {
			stop()
		}
		if err := sl.db.Close(); err != nil {
			s.opt.Log.Error("close instance database", "slot", sl.n, "err", err)
		}
	}
}

// Hooks are the service as hmd's daemon.Instance and daemon.Replicator
// (two types, because both hooks are called Start).
func (s *Service) Hooks() (*InstanceHook, *SyncHook) {
	return &InstanceHook{s: s}, &SyncHook{s: s}
}

// InstanceHook starts and stops the instance of a slot.
type InstanceHook struct{ s *Service }

// Start opens slot's database as the writer in epoch (recording the fork
// point), serves the instance API and starts the applications.
func (h *InstanceHook) Start(ctx context.Context, n int, epoch uint64) error {
	s := h.s
	sl, err := s.slot(n)
	if err != nil {
		return err
	}
	if sl.standby.Incomplete() {
		// A standby whose initial (or fallback) full copy never finished
		// holds an old or empty database; serving it would silently lose
		// what the active node acknowledged. The state machine does not
		// claim in that case (ReplicaUsable); this is the last guard.
		err := errors.New("the initial sync into this node never completed: refusing to serve an incomplete instance database")
		s.event(n, MsgStartRefused, err.Error())
		return err
	}
	sl.standby.SetServing(true)
	fork, err := sl.db.Promote(epoch)
	if err != nil {
		sl.standby.SetServing(false)
		return err
	}
	s.event(n, MsgReconfigured, fmt.Sprintf("epoch %d, fork point at sequence %d", epoch, fork))
	s.stopServing()
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := Serve(sctx, s.opt.Socket, Handler(sl.db, s.opt.Log)); err != nil {
			s.opt.Log.Error("instance API", "err", err)
		}
	}()
	s.mu.Lock()
	s.serving, s.stopServer, s.serverDone = n, cancel, done
	s.mu.Unlock()
	if err := s.apps.Start(ctx); err != nil {
		return err
	}
	s.opt.Log.Info("application instance started", "slot", n)
	return nil
}

// ReplicaUsable implements daemon.ReplicaChecker: whether slot n's local
// copy may be served (false while a full copy into this node is
// unfinished). A slot never opened here has nothing to refuse yet.
func (h *InstanceHook) ReplicaUsable(n int) (bool, string) {
	s := h.s
	s.mu.Lock()
	sl := s.slots[n]
	s.mu.Unlock()
	if sl == nil || !sl.standby.Incomplete() {
		return true, ""
	}
	return false, "a full copy into this node is unfinished"
}

// Stop stops the applications, the instance API and replication from this
// node: the slot goes DORMANT and accepts replication again.
func (h *InstanceHook) Stop(ctx context.Context, n int) error {
	s := h.s
	s.mu.Lock()
	serving := s.serving == n
	s.mu.Unlock()
	var err error
	if serving {
		err = s.apps.Stop(ctx)
		s.stopServing()
	}
	sl, serr := s.slot(n)
	if serr != nil {
		return errors.Join(err, serr)
	}
	s.mu.Lock()
	stop := sl.stopActive
	sl.stopActive = nil
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	sl.standby.SetServing(false)
	return err
}

func (s *Service) stopServing() {
	s.mu.Lock()
	cancel, done := s.stopServer, s.serverDone
	s.serving, s.stopServer, s.serverDone = 0, nil, nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// SyncHook starts replication from this node to the peer.
type SyncHook struct{ s *Service }

// Start implements daemon.Replicator: it starts (or keeps) shipping slot's
// log to the peer and reports progress until the standby is Up.
func (h *SyncHook) Start(ctx context.Context, peer store.PeerConfig, kind ha.SyncKind, epoch uint64, progress func(percent int, done bool)) {
	s := h.s
	sl, err := s.slot(peer.InstanceSlot)
	if err != nil {
		s.opt.Log.Error("start sync", "slot", peer.InstanceSlot, "err", err)
		return
	}
	s.mu.Lock()
	sl.progress = progress
	running := sl.stopActive != nil
	s.mu.Unlock()
	s.opt.Log.Info("data sync requested", "slot", sl.n, "kind", kind, "epoch", epoch, "peer", peer.HIP, "already_running", running)
	if running {
		// Report the current status from the forwarder goroutine: the
		// callback must never be called from within Start.
		sl.push(sl.active.Status())
		return
	}
	addr := netip.AddrPortFrom(peer.HIP, uint16(s.opt.Port+sl.n)).String()
	dial := func(ctx context.Context) (net.Conn, error) {
		cfg, err := replicate.TLSConfig(s.opt.Identity, peer.Fingerprint, false)
		if err != nil {
			return nil, err
		}
		d := tls.Dialer{Config: cfg, NetDialer: &net.Dialer{Timeout: 3 * time.Second, KeepAliveConfig: replicationKeepAlive}}
		return d.DialContext(ctx, "tcp", addr)
	}
	sl.report = make(chan replicate.Status, 1)
	a, err := replicate.NewActive(replicate.ActiveOptions{Log: sl.db, Mode: s.opt.Mode, Dial: dial,
		AckTimeout: s.opt.AckTimeout, ProtectionWait: s.opt.ProtectionWait, StallTimeout: s.opt.StallTimeout,
		Logger:   s.opt.Log.With("slot", sl.n, "peer", peer.HIP),
		OnStatus: sl.push})
	if err != nil {
		s.opt.Log.Error("start sync", "err", err)
		return
	}
	actx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		a.Run(actx)
	}()
	// The forwarder is not waited for: it may be blocked handing a report
	// to the daemon's loop, which is the caller of stopActive.
	go func() {
		var evs statusEvents
		for {
			select {
			case st := <-sl.report:
				if actx.Err() == nil {
					for _, r := range evs.next(st) {
						s.event(sl.n, r.description, r.remarks)
					}
					s.forward(sl, st)
				}
			case <-actx.Done():
				return
			}
		}
	}()
	sl.db.SetReplicator(a)
	s.mu.Lock()
	sl.active = a
	sl.stopActive = func() {
		sl.db.SetReplicator(nil)
		cancel()
		<-runDone
		s.mu.Lock()
		sl.active, sl.progress = nil, nil
		s.mu.Unlock()
	}
	s.mu.Unlock()
}

// push queues a status for the forwarder; the latest wins and the caller
// (possibly a commit) never blocks.
func (sl *slot) push(st replicate.Status) {
	for {
		select {
		case sl.report <- st:
			return
		default:
		}
		select {
		case <-sl.report:
		default:
		}
	}
}

// forward gives the daemon's callback the progress, once Up with done.
func (s *Service) forward(sl *slot, st replicate.Status) {
	s.mu.Lock()
	progress := sl.progress
	if st.State == replicate.StateUp {
		sl.progress = nil
	}
	s.mu.Unlock()
	if progress == nil {
		return
	}
	progress(st.Percent, st.State == replicate.StateUp)
}

// Replication implements daemon.ReplicationReporter.
func (h *SyncHook) Replication(n int) (api.Replication, bool) {
	st, ok := h.s.Status(n)
	if !ok {
		return api.Replication{}, false
	}
	return api.Replication{State: st.State, Mode: string(st.Mode), Percent: st.Percent, LastSeq: st.LastSeq,
		AckedSeq: st.AckedSeq, Lag: st.Lag, LagBytes: st.LagBytes, LagSeconds: st.LagSeconds,
		Reason: st.Reason, Resent: st.Resent, Stalls: st.Stalls, Protocol: st.Protocol}, true
}

// Status returns the replication status of slot n as the active side sees
// it (ok false when this node does not ship that slot).
func (s *Service) Status(n int) (replicate.Status, bool) {
	s.mu.Lock()
	sl := s.slots[n]
	s.mu.Unlock()
	if sl == nil {
		return replicate.Status{}, false
	}
	s.mu.Lock()
	a := sl.active
	s.mu.Unlock()
	if a == nil {
		return replicate.Status{}, false
	}
	return a.Status(), true
}
