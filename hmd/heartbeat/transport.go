package heartbeat

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/hafw/hafw/hmd/ha"
)

// Defaults of the transport.
const (
	DefaultInterval  = time.Second
	DefaultRTTWindow = 32
)

// Path is one local heartbeat path: a name shared with the peer's
// configuration ("hm" for the health-monitor interface, "dc" for the
// direct-connect link, …) and the local UDP address to send and receive on.
type Path struct {
	Name  string
	Local netip.AddrPort
}

// Peer is one relationship: the pair, the peer's node ID, the pairing
// secret and the peer's address on each path it shares with us.
type Peer struct {
	Pair    string
	Node    string
	Secret  []byte
	Remotes map[string]netip.AddrPort
	// FailoverWait is this relationship's own wait (0: Config's); in N:1
	// each primary's is honoured, however short another's is.
	FailoverWait time.Duration
}

// Config configures a Monitor.
type Config struct {
	// Node is this node's ID as the peers know it.
	Node  string
	Paths []Path
	Peers []Peer
	// Interval between heartbeats on each path (sub-second allowed).
	Interval time.Duration
	// FailoverWait: a peer is down when every path was silent this long
	// (unless its Peer.FailoverWait says otherwise); it must be the
	// shortest of them.
	FailoverWait time.Duration
	// RTTWindow is how many round trips the mean response time covers.
	RTTWindow int
	Logger    *slog.Logger
	// Firmware is this node's firmware version, told to peers that read
	// wire version 3 (a pair mid-upgrade shows both versions).
	Firmware string
	// OnRTT, if set, gets every round trip measured on a path (metrics).
	// It is called with the monitor's lock held: it must be quick.
	OnRTT func(pair, path string, rtt time.Duration)
}

// Local is what this node reports about itself to one peer.
type Local struct {
	State    ha.State
	Epoch    uint64
	HoldsVIP bool
	Graceful bool
	// Degraded: this node's application failed within its hold-down.
	Degraded bool
	// Ineligible: this node may take no HA role (ha.Eligibility).
	Ineligible bool
}

func (l Local) flags() uint8 {
	var f uint8
	if l.HoldsVIP {
		f |= FlagHoldsVIP
	}
	if l.Graceful {
		f |= FlagGraceful
	}
	if l.Degraded {
		f |= FlagDegraded
	}
	if l.Ineligible {
		f |= FlagIneligible
	}
	return f
}

// Event is an input for the state machine of relationship Pair.
type Event struct {
	Pair  string
	Event ha.Event // ha.Heartbeat, ha.PeerSuspect or ha.PeerDown
}

// PathStatus is the view of one path to one peer.
type PathStatus struct {
	Up        bool
	LastHeard time.Time
	MeanRTT   time.Duration
	// Requests counts heartbeats sent on the path that ask for a reply,
	// Replies the timely replies heard: the difference is the path's loss.
	Requests, Replies uint64
}

// PeerStatus is what gethainfo and the API show of one peer.
type PeerStatus struct {
	Up bool
	// MeanRTT is the seed's "Mean Heartbeat Response Time" (all paths).
	MeanRTT  time.Duration
	Paths    map[string]PathStatus
	Sent     uint64
	Received uint64
	// Wire is the newest heartbeat format version the peer's run sent (0:
	// not heard yet, or an older one for less than two probe periods) and
	// Firmware the firmware version it told ("" when it
	// speaks version 2, which does not carry it).
	Wire     uint8
	Firmware string
}

// rtt is a moving window of round-trip samples.
type rtt struct {
	samples []time.Duration
	next    int
	full    bool
}

func (r *rtt) add(d time.Duration) {
	r.samples[r.next] = d
	r.next = (r.next + 1) % len(r.samples)
	r.full = r.full || r.next == 0
}

func (r *rtt) mean() time.Duration {
	n := r.next
	if r.full {
		n = len(r.samples)
	}
	if n == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range r.samples[:n] {
		sum += d
	}
	return sum / time.Duration(n)
}

type pathState struct {
	lastHeard         time.Time
	rtt               rtt
	requests, replies uint64
}

type peer struct {
	cfg      Peer
	wait     time.Duration // the failover wait of this relationship
	key      []byte
	seq      uint64
	local    Local
	paths    map[string]*pathState // by path name, for paths with a remote
	rtt      rtt
	up       bool
	suspect  bool // PeerSuspect was emitted for the current silence
	reported bool // an Up or Down was emitted since start
	last     ha.Heartbeat
	sent     uint64
	received uint64
	// heard is the newest format the peer sent in its current run
	// (heardBoot), 0 until it is heard; firmware is what it told.
	heard     uint8
	heardBoot uint64
	firmware  string
	ticks     uint64
	// runTicks counts ticks since the peer's run was first heard: an
	// older format is reported only once probes had time to be answered.
	runTicks uint64
}

// wire is the format written to the peer: the newest its run spoke,
// MinVersion until it is heard.
func (p *peer) wire() uint8 { return max(p.heard, MinVersion) }

// probeEvery is how many heartbeat intervals apart a monitor that writes
// an older format to a peer adds a probe in the newest one: a peer on the
// old firmware drops it, an upgraded one answers it and both move up.
const probeEvery = 4

// Monitor sends heartbeats on every path to every peer, answers and times
// the peer's heartbeats, and reports ha.Heartbeat when a peer is heard
// (first time, after a suspicion, or its reported state changed),
// ha.PeerSuspect when every path to it has been silent for half the
// failover wait and ha.PeerDown when for the whole wait.
type Monitor struct {
	cfg   Config
	log   *slog.Logger
	conns map[string]*net.UDPConn
	ver   *Verifier
	start time.Time
	// boot identifies this run to the peers (their challenge renews when
	// it changes); sequence numbers start at 1 in every run.
	boot uint64

	mu      sync.Mutex
	peers   map[string]*peer // by pair
	pending []Event
	wake    chan struct{}
}

// New validates cfg, derives the keys and binds every path's socket.
func New(cfg Config) (*Monitor, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.FailoverWait <= 0 {
		cfg.FailoverWait = ha.DefaultFailoverWait
	}
	if cfg.FailoverWait < 2*cfg.Interval {
		return nil, fmt.Errorf("heartbeat: failover wait %s must be at least two intervals (%s)", cfg.FailoverWait, cfg.Interval)
	}
	if cfg.RTTWindow <= 0 {
		cfg.RTTWindow = DefaultRTTWindow
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := checkID("node", cfg.Node); err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	if len(cfg.Paths) == 0 {
		return nil, errors.New("heartbeat: no path configured")
	}
	m := &Monitor{cfg: cfg, log: cfg.Logger, conns: map[string]*net.UDPConn{}, ver: NewVerifier(), boot: nonce(),
		peers: map[string]*peer{}, wake: make(chan struct{}, 1)}
	names := map[string]bool{}
	for _, p := range cfg.Paths {
		if p.Name == "" || names[p.Name] {
			return nil, fmt.Errorf("heartbeat: path name %q empty or repeated", p.Name)
		}
		names[p.Name] = true
	}
	for _, pc := range cfg.Peers {
		if _, dup := m.peers[pc.Pair]; dup {
			return nil, fmt.Errorf("heartbeat: pair %q configured twice", pc.Pair)
		}
		key, err := DeriveKey(pc.Secret, pc.Pair)
		if err != nil {
			return nil, fmt.Errorf("heartbeat: pair %q: %w", pc.Pair, err)
		}
		if err := m.ver.AddPeer(pc.Pair, pc.Node, key); err != nil {
			return nil, fmt.Errorf("heartbeat: %w", err)
		}
		wait := cmp.Or(pc.FailoverWait, cfg.FailoverWait)
		if wait < cfg.FailoverWait {
			return nil, fmt.Errorf("heartbeat: pair %q: failover wait %s is shorter than the monitor's %s", pc.Pair, wait, cfg.FailoverWait)
		}
		p := &peer{cfg: pc, wait: wait, key: key, paths: map[string]*pathState{}, rtt: rtt{samples: make([]time.Duration, cfg.RTTWindow)}}
		for name, addr := range pc.Remotes {
			if !names[name] {
				return nil, fmt.Errorf("heartbeat: pair %q: remote on unknown path %q", pc.Pair, name)
			}
			if !addr.IsValid() {
				return nil, fmt.Errorf("heartbeat: pair %q: invalid remote address on path %q", pc.Pair, name)
			}
			p.paths[name] = &pathState{rtt: rtt{samples: make([]time.Duration, cfg.RTTWindow)}}
		}
		if len(p.paths) == 0 {
			return nil, fmt.Errorf("heartbeat: pair %q has no remote address", pc.Pair)
		}
		m.peers[pc.Pair] = p
	}
	for _, p := range cfg.Paths {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(p.Local))
		if err != nil {
			m.closeAll()
			return nil, fmt.Errorf("heartbeat: listen on path %s (%s): %w", p.Name, p.Local, err)
		}
		m.conns[p.Name] = c
	}
	return m, nil
}

func (m *Monitor) closeAll() {
	for _, c := range m.conns {
		c.Close()
	}
}

// LocalAddr is the bound address of a path (useful with port 0).
func (m *Monitor) LocalAddr(path string) netip.AddrPort {
	c, ok := m.conns[path]
	if !ok {
		return netip.AddrPort{}
	}
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// SetLocal sets what this node reports to the peer of pair from now on.
func (m *Monitor) SetLocal(pair string, l Local) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.peers[pair]; ok {
		p.local = l
	}
}

// SendNow sends a heartbeat to the peer of pair on every path at once (the
// state machine's SendState action).
func (m *Monitor) SendNow(pair string) {
	m.sendPeer(pair, time.Now())
}

// Rejects returns the counters of rejected messages by reason.
func (m *Monitor) Rejects() map[string]uint64 { return m.ver.Rejects() }

// Status reports the view of the peer of pair.
func (m *Monitor) Status(pair string) (PeerStatus, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.peers[pair]
	if !ok {
		return PeerStatus{}, false
	}
	now := time.Now()
	st := PeerStatus{Up: p.up, MeanRTT: p.rtt.mean(), Paths: map[string]PathStatus{}, Sent: p.sent, Received: p.received,
		Wire: p.heard, Firmware: p.firmware}
	if p.heard < Version && p.runTicks <= 2*probeEvery {
		st.Wire = 0 // not settled: the peer may not have answered a probe yet
	}
	for name, ps := range p.paths {
		st.Paths[name] = PathStatus{
			Up:        !ps.lastHeard.IsZero() && now.Sub(ps.lastHeard) < p.wait,
			LastHeard: ps.lastHeard,
			MeanRTT:   ps.rtt.mean(),
			Requests:  ps.requests,
			Replies:   ps.replies,
		}
	}
	return st, true
}

// Run sends, receives and watches until ctx ends, delivering events to out
// in the order they happened. It closes the sockets before returning.
func (m *Monitor) Run(ctx context.Context, out chan<- Event) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.start = time.Now()
	var wg sync.WaitGroup
	for name, c := range m.conns {
		wg.Go(func() { m.receive(ctx, name, c) })
	}
	wg.Go(func() { m.emit(ctx, out) })
	wg.Go(func() { m.sendLoop(ctx) })
	wg.Go(func() { m.watch(ctx) })
	<-ctx.Done()
	m.closeAll() // unblocks the receivers
	wg.Wait()
	return nil
}

func (m *Monitor) sendLoop(ctx context.Context) {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		now := time.Now()
		for pair := range m.peers { // the set of pairs never changes
			m.sendPeer(pair, now)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sendPeer sends one heartbeat on every path of pair. A path that fails is
// logged and does not stop the others.
func (m *Monitor) sendPeer(pair string, now time.Time) {
	m.mu.Lock()
	p := m.peers[pair]
	p.ticks++
	p.runTicks++
	// The first tick probes too, and the probe goes first: an upgraded
	// peer then knows this run's firmware before its first plain message.
	probe := p.wire() < Version && p.ticks%probeEvery == 1
	m.mu.Unlock()
	for _, path := range m.cfg.Paths {
		if probe {
			m.send(pair, path.Name, netip.AddrPort{}, 0, 0, true, now)
		}
		m.send(pair, path.Name, netip.AddrPort{}, 0, 0, false, now)
	}
}

// send seals and sends one message to pair on path; to overrides the
// configured remote (replies go back where the request came from), echo
// makes it a reply, and answer overrides the answer to the peer's
// challenge (replying to an unproven message with the challenge it
// carries teaches the peer ours, whatever we believed its challenge was).
// A probe is written in the newest format whatever the peer speaks, and is
// not counted as a request (a peer on old firmware never answers it).
func (m *Monitor) send(pair, path string, to netip.AddrPort, echo int64, answer uint64, probe bool, now time.Time) {
	m.mu.Lock()
	p, ok := m.peers[pair]
	if !ok {
		m.mu.Unlock()
		return
	}
	if !to.IsValid() {
		to = p.cfg.Remotes[path]
	}
	if !to.IsValid() {
		m.mu.Unlock()
		return
	}
	p.seq++
	challenge, learned := m.ver.Tokens(pair, p.cfg.Node)
	if answer == 0 {
		answer = learned
	}
	msg := Message{Wire: p.wire(), Flags: p.local.flags(), State: p.local.State, Sender: m.cfg.Node, Pair: pair,
		Seq: p.seq, SentAt: now.UnixNano(), Echo: echo, Epoch: p.local.Epoch,
		Boot: m.boot, Challenge: challenge, Answer: answer, Firmware: m.cfg.Firmware}
	if probe {
		msg.Wire = Version
	}
	if echo != 0 {
		msg.Flags |= FlagReply
	} else if ps := p.paths[path]; ps != nil && !probe {
		ps.requests++
	}
	p.sent++
	key := p.key
	m.mu.Unlock()
	b, err := Seal(msg, key)
	if err != nil {
		m.log.Error("heartbeat: seal", "pair", pair, "err", err)
		return
	}
	if _, err := m.conns[path].WriteToUDPAddrPort(b, to); err != nil {
		m.log.Debug("heartbeat: send failed", "pair", pair, "path", path, "to", to, "err", err)
	}
}

func (m *Monitor) receive(ctx context.Context, path string, c *net.UDPConn) {
	buf := make([]byte, MaxLen+1)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			m.log.Debug("heartbeat: receive", "path", path, "err", err)
			continue
		}
		now := time.Now()
		msg, newest, err := m.ver.verify(buf[:n])
		switch {
		case err == nil:
			if m.heard(path, msg, newest, now) && msg.Flags&FlagReply == 0 {
				m.send(msg.Pair, path, from, msg.SentAt, 0, false, now)
			}
		case errors.Is(err, ErrUnproven) && msg.Flags&FlagReply == 0:
			// Authentic but not live: answer its challenge so that a
			// genuine peer learns ours (a replay learns nothing new).
			m.log.Debug("heartbeat: unproven, answering", "path", path, "from", from, "err", err)
			m.send(msg.Pair, path, from, msg.SentAt, msg.Challenge, false, now)
		default:
			m.log.Debug("heartbeat: rejected", "path", path, "from", from, "reason", Reason(err), "err", err)
		}
	}
}

// heard records a live message and queues the events it causes (only the
// newest of the peer's run changes its state). It reports whether the
// message belongs to a known peer on a known path.
func (m *Monitor) heard(path string, msg Message, newest bool, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.peers[msg.Pair]
	if !ok {
		return false
	}
	ps, ok := p.paths[path]
	if !ok {
		return false
	}
	p.received++
	ps.lastHeard = now
	// Speak the newest format the peer's run spoke: it moves up when an
	// upgraded peer answers a probe (its plain messages in the older format
	// until it heard ours do not move it back), and a new run — the peer
	// restarted, perhaps on older firmware after a rollback — starts over.
	if msg.Boot != p.heardBoot || msg.Wire > p.heard {
		if msg.Boot != p.heardBoot {
			p.runTicks = 0
		}
		p.heardBoot, p.heard, p.firmware = msg.Boot, msg.Wire, msg.Firmware
	}
	if msg.Flags&FlagReply != 0 {
		if d := time.Duration(now.UnixNano() - msg.Echo); d > 0 && d < p.wait {
			ps.rtt.add(d)
			p.rtt.add(d)
			ps.replies++
			if m.cfg.OnRTT != nil {
				m.cfg.OnRTT(msg.Pair, path, d)
			}
		}
	}
	if !newest {
		return true // older than what the state machine already saw
	}
	hb := ha.Heartbeat{State: msg.State, Epoch: msg.Epoch, HoldsVIP: msg.Flags&FlagHoldsVIP != 0, Graceful: msg.Flags&FlagGraceful != 0,
		Degraded: msg.Flags&FlagDegraded != 0, Ineligible: msg.Flags&FlagIneligible != 0}
	if !p.up || p.suspect || hb != p.last {
		p.up, p.suspect, p.reported, p.last = true, false, true, hb
		m.queue(Event{Pair: msg.Pair, Event: hb})
	}
	return true
}

// queue hands an event to the emitter; m.mu is held.
func (m *Monitor) queue(e Event) {
	m.pending = append(m.pending, e)
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// emit delivers queued events in order without ever blocking the
// receivers, the sender or callers of Status on a slow consumer.
func (m *Monitor) emit(ctx context.Context, out chan<- Event) {
	for {
		m.mu.Lock()
		batch := m.pending
		m.pending = nil
		m.mu.Unlock()
		for _, e := range batch {
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		}
	}
}

// watch declares a peer down when every path has been silent for the
// failover wait (or nothing was heard that long since start).
//
// A check that runs late (the process or the machine stalled) is skipped:
// heartbeats that arrived meanwhile may still wait in the socket buffers,
// and a stalled node must not take its own stall for the peer's silence.
func (m *Monitor) watch(ctx context.Context) {
	period := max(min(m.cfg.Interval/2, m.cfg.FailoverWait/10), time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := time.Now()
			gap := now.Sub(last)
			last = now
			if gap > 2*period {
				m.log.Debug("heartbeat: watcher ran late; check skipped", "gap", gap)
				continue
			}
			m.check(now)
		}
	}
}

func (m *Monitor) check(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for pair, p := range m.peers {
		if !p.up && p.reported {
			continue
		}
		last := m.start
		for _, ps := range p.paths {
			if ps.lastHeard.After(last) {
				last = ps.lastHeard
			}
		}
		switch silent := now.Sub(last); {
		case silent >= p.wait:
			p.up, p.suspect, p.reported = false, false, true
			m.queue(Event{Pair: pair, Event: ha.PeerDown{}})
		case p.up && !p.suspect && silent >= p.wait/2:
			p.suspect = true
			m.queue(Event{Pair: pair, Event: ha.PeerSuspect{}})
		}
	}
}
