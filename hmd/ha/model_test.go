package ha

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"
)

// The model test runs the pure machines of two (1:1) or three (N:1) nodes
// on a simulated network with heartbeat loss, heartbeat-link cuts, full
// isolation, crashes, orderly reboots and random API commands, then heals
// everything and checks that each VIP has settled on exactly one owner.
// The simulated transport mimics package heartbeat: it reports a heartbeat
// when the peer's reported state changes or the peer comes back (also after
// a suspicion), PeerSuspect after half the failover wait of silence on
// every path and PeerDown after the whole wait.

const (
	simTick = 100 * time.Millisecond
	simWait = time.Second
)

type simOpts struct {
	nToOne bool
	// brokenRemove makes the executor ignore RemoveVIP: the model must
	// catch it (TestModelCatchesBrokenExecutor).
	brokenRemove bool
}

type rel struct {
	pair int
	peer int
	// What the simulated transport last reported to the machine.
	up       bool
	suspect  bool
	last     Heartbeat
	reported bool
	heardAt  time.Time
}

type simNode struct {
	id          int
	up          bool
	incarnation int
	group       []Node
	rels        []rel
	downUntil   time.Time // restart time while down (zero: stays down)
}

type pending struct {
	at          time.Time
	node, rel   int
	incarnation int
	ev          Event
	// cond, if set, is checked at delivery: false re-queues the event
	// (replication waits for the link).
	cond func() bool
}

type sim struct {
	rng    *rand.Rand
	opts   simOpts
	now    time.Time
	nodes  []*simNode
	npairs int
	// holders[pair][node]: the VIP is configured on that node's interface.
	holders  []map[int]bool
	isolated map[int]bool
	hbCut    map[[2]int]bool
	loss     float64
	// failoverType of every relationship in this run.
	failoverType Mode
	queue        []pending
	trace        []string
}

func newSim(seed uint64, opts simOpts) *sim {
	s := &sim{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), opts: opts, now: t0,
		isolated: map[int]bool{}, hbCut: map[[2]int]bool{}}
	fb := Manual
	if s.rng.IntN(2) == 0 {
		fb = Automatic
	}
	// Manual failover runs only promise "at most one owner" and a serving
	// primary whenever it is up.
	fo := Automatic
	if s.rng.IntN(4) == 0 {
		fo = Manual
	}
	s.failoverType = fo
	witness := s.rng.IntN(3) == 0
	mk := func(r Role, peer string) Config {
		return Config{Role: r, Peer: peer, FailoverType: fo, FailbackType: fb, FailoverWait: simWait,
			StabilizationWindow: 5 * time.Second, GracefulTimeout: 3 * time.Second, Witness: witness}
	}
	if opts.nToOne {
		// nodes 0 and 1 are primaries, node 2 backs both.
		s.npairs = 2
		for p := range 2 {
			n, _ := New(mk(Primary, "S"), t0)
			s.nodes = append(s.nodes, &simNode{id: p, up: true, group: []Node{n}, rels: []rel{{pair: p, peer: 2}}})
		}
		a, _ := New(mk(Secondary, "P0"), t0)
		b, _ := New(mk(Secondary, "P1"), t0)
		s.nodes = append(s.nodes, &simNode{id: 2, up: true, group: []Node{a, b}, rels: []rel{{pair: 0, peer: 0}, {pair: 1, peer: 1}}})
	} else {
		s.npairs = 1
		p, _ := New(mk(Primary, "S"), t0)
		q, _ := New(mk(Secondary, "P"), t0)
		s.nodes = []*simNode{{id: 0, up: true, group: []Node{p}, rels: []rel{{pair: 0, peer: 1}}},
			{id: 1, up: true, group: []Node{q}, rels: []rel{{pair: 0, peer: 0}}}}
	}
	for p := 0; p < s.npairs; p++ {
		s.holders = append(s.holders, map[int]bool{})
	}
	// New made the primaries serve.
	for p := 0; p < s.npairs; p++ {
		s.holders[p][p] = true
	}
	return s
}

func (s *sim) logf(format string, a ...any) {
	s.trace = append(s.trace, fmt.Sprintf("%7.1fs ", s.now.Sub(t0).Seconds())+fmt.Sprintf(format, a...))
	if len(s.trace) > 400 {
		s.trace = s.trace[len(s.trace)-300:]
	}
}

// relOf finds node x's relationship index for pair p.
func (s *sim) relOf(x, p int) int {
	for i, r := range s.nodes[x].rels {
		if r.pair == p {
			return i
		}
	}
	return -1
}

// hbPath: can heartbeats flow between a and b?
func (s *sim) hbPath(a, b int) bool {
	return s.nodes[a].up && s.nodes[b].up && !s.isolated[a] && !s.isolated[b] && !s.hbCut[key(a, b)]
}

// arpPath: can a and b see each other's ARP (same segment)?
func (s *sim) arpPath(a, b int) bool {
	return s.nodes[a].up && s.nodes[b].up && !s.isolated[a] && !s.isolated[b]
}

func key(a, b int) [2]int {
	if a > b {
		a, b = b, a
	}
	return [2]int{a, b}
}

func (s *sim) later(ticks int, x, i int, ev Event, cond func() bool) {
	s.queue = append(s.queue, pending{at: s.now.Add(time.Duration(ticks) * simTick), node: x, rel: i,
		incarnation: s.nodes[x].incarnation, ev: ev, cond: cond})
}

// step runs one event through node x's relationship i and executes the
// actions like hmd would.
func (s *sim) step(x, i int, ev Event) {
	n := s.nodes[x]
	if !n.up {
		return
	}
	var acts []Action
	before := n.group[i].State
	n.group, acts = StepGroup(n.group, i, ev, s.now)
	if after := n.group[i].State; after != before {
		s.logf("node %d rel %d: %s --%T--> %s (epoch %d holds %v)", x, i, before, ev, after, n.group[i].Epoch, n.group[i].HoldsVIP)
	}
	pair, peer := n.rels[i].pair, n.rels[i].peer
	for _, a := range acts {
		switch a := a.(type) {
		case AddVIP:
			s.holders[pair][x] = true
			s.logf("node %d adds VIP %d (epoch %d)", x, pair, a.Epoch)
		case RemoveVIP:
			if !s.opts.brokenRemove {
				delete(s.holders[pair], x)
			}
		case AnnounceVIP, QuietVIP:
			if !s.holders[pair][x] {
				s.fail("node %d: %T for VIP %d, which it does not hold", x, a, pair)
			}
		case StartInstance:
			s.later(1+s.rng.IntN(3), x, i, InstanceStarted{}, nil)
		case StopInstance:
			s.later(1, x, i, InstanceStopped{}, nil)
		case Sync:
			s.later(5+s.rng.IntN(20), x, i, ReplicationSynced{}, func() bool { return s.hbPath(x, peer) })
		case ProbeVIP:
			// Only the two nodes of a pair ever hold its VIP: another
			// owner is always the peer.
			owner := ""
			for y := range s.holders[pair] {
				if y != x && s.arpPath(x, y) {
					owner = fmt.Sprintf("node-%d", y)
				}
			}
			s.later(1, x, i, VIPProbe{Owner: owner, ByPeer: owner != ""}, nil)
		case ProbeGateway:
			s.later(1, x, i, GatewayProbe{Reachable: !s.isolated[x]}, nil)
		case AskWitness:
			if !s.isolated[x] {
				s.later(1, x, i, WitnessVote{PeerDown: !s.nodes[peer].up || s.isolated[peer]}, nil)
			}
		case SendState:
			s.sendHeartbeat(x, i)
		case AskPeerClaim:
			// The peer's authenticated API travels the heartbeats' path;
			// the answer is what the peer holds now.
			claim := PeerClaim{}
			if s.nodes[peer].up && s.hbPath(x, peer) {
				other := s.nodes[peer].group[s.relOf(peer, pair)]
				claim = PeerClaim{Answered: true, HoldsVIP: other.HoldsVIP, Epoch: other.Epoch}
			}
			s.later(1, x, i, claim, nil)
		case AppendEvent, Refused:
		default:
			s.fail("unknown action %T", a)
		}
	}
}

// sendHeartbeat sends node x's state of relationship i to its peer, subject
// to loss; delivery takes one or two ticks.
func (s *sim) sendHeartbeat(x, i int) {
	n := s.nodes[x]
	r := n.rels[i]
	if !s.hbPath(x, r.peer) || s.rng.Float64() < s.loss {
		return
	}
	me := n.group[i]
	hb := Heartbeat{State: me.State, Epoch: me.Epoch, HoldsVIP: me.HoldsVIP, Graceful: me.State == GracefulShutdown}
	j := s.relOf(r.peer, r.pair)
	s.queue = append(s.queue, pending{at: s.now.Add(time.Duration(1+s.rng.IntN(2)) * simTick), node: r.peer, rel: j,
		incarnation: s.nodes[r.peer].incarnation, ev: hb})
}

// deliverHeartbeat is the simulated transport's receive side.
func (s *sim) deliverHeartbeat(x, i int, hb Heartbeat) {
	r := &s.nodes[x].rels[i]
	r.heardAt = s.now
	if r.up && !r.suspect && r.last == hb {
		return
	}
	r.up, r.suspect, r.last, r.reported = true, false, hb, true
	s.step(x, i, hb)
}

func (s *sim) crash(x int) {
	n := s.nodes[x]
	n.up = false
	n.incarnation++
	for p := range s.holders {
		delete(s.holders[p], x)
	}
	s.logf("node %d crashes", x)
}

func (s *sim) restart(x int) {
	n := s.nodes[x]
	n.up = true
	n.downUntil = time.Time{}
	n.incarnation++
	for i := range n.rels {
		n.rels[i] = rel{pair: n.rels[i].pair, peer: n.rels[i].peer, heardAt: s.now}
	}
	s.logf("node %d restarts", x)
	for i := range n.group {
		s.step(x, i, Started{})
	}
}

func (s *sim) tick() {
	s.now = s.now.Add(simTick)
	// Deliver what is due, in order of arrival.
	sort.SliceStable(s.queue, func(a, b int) bool { return s.queue[a].at.Before(s.queue[b].at) })
	var keep []pending
	for len(s.queue) > 0 && !s.queue[0].at.After(s.now) {
		p := s.queue[0]
		s.queue = s.queue[1:]
		n := s.nodes[p.node]
		switch {
		case !n.up || n.incarnation != p.incarnation:
		case p.cond != nil && !p.cond():
			p.at = s.now.Add(5 * simTick)
			keep = append(keep, p)
		default:
			if hb, ok := p.ev.(Heartbeat); ok {
				s.deliverHeartbeat(p.node, p.rel, hb)
			} else {
				s.step(p.node, p.rel, p.ev)
			}
		}
	}
	s.queue = append(s.queue, keep...)
	for x, n := range s.nodes {
		if !n.up {
			if !n.downUntil.IsZero() && !s.now.Before(n.downUntil) {
				s.restart(x)
			}
			continue
		}
		for i := range n.rels {
			// Heartbeat every other tick, failure detection, timer tick.
			if s.rng.IntN(2) == 0 {
				s.sendHeartbeat(x, i)
			}
			r := &n.rels[i]
			switch silent := s.now.Sub(r.heardAt); {
			case (r.up || !r.reported) && silent >= simWait:
				r.up, r.suspect, r.reported = false, false, true
				s.step(x, i, PeerDown{})
			case r.up && !r.suspect && silent >= simWait/2:
				r.suspect = true
				s.step(x, i, PeerSuspect{})
			}
			s.step(x, i, Tick{})
			// hmd's periodic ARP check of a VIP it holds.
			if n.group[i].HoldsVIP && s.rng.IntN(10) == 0 {
				for y := range s.holders[r.pair] {
					if y != x && s.arpPath(x, y) {
						s.step(x, i, VIPProbe{Owner: fmt.Sprintf("node-%d", y)})
						break
					}
				}
			}
		}
	}
	s.checkAlways()
}

// checkAlways holds at every instant, even in the middle of chaos.
func (s *sim) checkAlways() {
	for x, n := range s.nodes {
		held := 0
		for i, r := range n.rels {
			inWorld := s.holders[r.pair][x]
			if n.up && !s.opts.brokenRemove && inWorld != n.group[i].HoldsVIP {
				s.fail("node %d rel %d: HoldsVIP=%v but VIP configured=%v", x, i, n.group[i].HoldsVIP, inWorld)
			}
			if inWorld {
				held++
			}
		}
		if held > 1 {
			s.fail("node %d holds %d VIPs (N:1 allows one failover at a time)", x, held)
		}
	}
}

// simFailure is how a broken invariant leaves the simulation.
type simFailure struct{ msg string }

func (s *sim) fail(format string, a ...any) {
	panic(simFailure{fmt.Sprintf(format+"\ntrace (latest last):\n%s", append(a, strings.Join(s.trace, "\n"))...)})
}

// chaos injects one random fault or command.
func (s *sim) chaos() {
	x := s.rng.IntN(len(s.nodes))
	n := s.nodes[x]
	switch k := s.rng.IntN(100); {
	case k < 8 && n.up:
		s.crash(x)
		if s.rng.IntN(3) > 0 {
			n.downUntil = s.now.Add(time.Duration(s.rng.IntN(80)) * simTick)
		}
	case k < 14 && n.up:
		s.logf("node %d orderly shutdown", x)
		for i := range n.group {
			s.step(x, i, ShutdownRequested{})
		}
		s.crash(x)
		n.downUntil = s.now.Add(time.Duration(5+s.rng.IntN(80)) * simTick)
	case k < 24 && !n.up:
		s.restart(x)
	case k < 34:
		s.isolated[x] = !s.isolated[x]
		s.logf("node %d isolated=%v", x, s.isolated[x])
	case k < 50:
		y := (x + 1 + s.rng.IntN(len(s.nodes)-1)) % len(s.nodes)
		s.hbCut[key(x, y)] = !s.hbCut[key(x, y)]
		s.logf("heartbeat link %d-%d cut=%v", x, y, s.hbCut[key(x, y)])
	case k < 60:
		s.loss = []float64{0, 0.2, 0.4, 0.7}[s.rng.IntN(4)]
	case k < 80 && n.up:
		i := s.rng.IntN(len(n.group))
		s.logf("node %d rel %d: switchover", x, i)
		s.step(x, i, Switchover{Force: s.rng.IntN(2) == 0})
	case n.up:
		i := s.rng.IntN(len(n.group))
		s.logf("node %d rel %d: failback", x, i)
		s.step(x, i, Failback{Force: s.rng.IntN(2) == 0})
	}
}

// settle heals the network and checks the VIP owners.
func (s *sim) settle() {
	s.logf("--- heal ---")
	s.isolated = map[int]bool{}
	s.hbCut = map[[2]int]bool{}
	s.loss = 0
	for x, n := range s.nodes {
		if !n.up && !n.downUntil.IsZero() {
			s.restart(x)
		}
	}
	// Long enough for graceful timeouts, probes, syncs and failbacks.
	for k := range 300 {
		s.tick()
		if k == 100 && s.failoverType == Manual {
			s.operator()
		}
	}
	for p := 0; p < s.npairs; p++ {
		var owners []int
		for y := range s.holders[p] {
			owners = append(owners, y)
		}
		primary, secondary := p, len(s.nodes)-1
		anyUp := s.nodes[primary].up || s.nodes[secondary].up
		for _, y := range owners {
			// An owner that hears its peer (no suspicion pending)
			// announces the VIP again: a holder left quiet for good
			// would never re-announce it.
			for i, r := range s.nodes[y].rels {
				if g := s.nodes[y].group[i]; r.pair == p && g.Quiet && r.up && !r.suspect {
					s.fail("node %d holds VIP %d quiet although its peer is heard", y, p)
				}
			}
		}
		switch {
		case len(owners) > 1:
			s.fail("VIP %d has %d owners %v after settling", p, len(owners), owners)
		case len(owners) == 0 && anyUp:
			// N:1: the secondary may be busy serving the other primary.
			busy := false
			for q := 0; q < s.npairs; q++ {
				busy = busy || (q != p && s.holders[q][secondary])
			}
			manualWait := s.failoverType == Manual && !s.nodes[primary].up
			if s.nodes[primary].up || !(busy || manualWait) {
				s.fail("VIP %d has no owner after settling (primary up %v, secondary up %v)", p, s.nodes[primary].up, s.nodes[secondary].up)
			}
		}
	}
}

// runModel runs one seeded simulation and returns the broken invariant,
// or nil.
// operator does what the admin of a manual pair does when the secondary
// is gone and the primary is TERMINATED: a forced failback.
func (s *sim) operator() {
	for p := 0; p < s.npairs; p++ {
		i := s.relOf(p, p)
		if n := s.nodes[p]; n.up && n.group[i].State == Terminated && !s.nodes[len(s.nodes)-1].up {
			s.logf("operator: forced failback on node %d", p)
			s.step(p, i, Failback{Force: true})
		}
	}
}

func runModel(seed uint64, opts simOpts) (err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(simFailure)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("seed %d: %s", seed, f.msg)
		}
	}()
	s := newSim(seed, opts)
	for range 2000 {
		if s.rng.IntN(10) == 0 {
			s.chaos()
		}
		s.tick()
	}
	s.settle()
	return nil
}

func modelRuns(t *testing.T) int {
	if testing.Short() {
		return 50
	}
	return 400
}

func TestModelOneToOne(t *testing.T) {
	for seed := range uint64(modelRuns(t)) {
		if err := runModel(seed, simOpts{}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestModelNToOne(t *testing.T) {
	for seed := range uint64(modelRuns(t)) {
		if err := runModel(1_000_000+seed, simOpts{nToOne: true}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestModelCatchesBrokenExecutor shows that the model can fail: with an
// executor that never removes the VIP, some run must end with two owners.
func TestModelCatchesBrokenExecutor(t *testing.T) {
	for seed := range uint64(20) {
		if err := runModel(seed, simOpts{brokenRemove: true}); err != nil {
			if !strings.Contains(err.Error(), "owners") {
				t.Fatalf("caught, but not as two owners: %v", err)
			}
			return
		}
	}
	t.Fatal("20 runs with a broken executor passed: the model cannot fail")
}
