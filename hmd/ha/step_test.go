package ha

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func cfgOf(r Role, fo, fb Mode) Config {
	return Config{Role: r, Peer: "peer", FailoverType: fo, FailbackType: fb,
		FailoverWait: 10 * time.Second, StabilizationWindow: 30 * time.Minute, GracefulTimeout: 5 * time.Minute}
}

// run applies evs in order at now and returns the node and all actions.
func run(n Node, now time.Time, evs ...Event) (Node, []Action) {
	var all []Action
	for _, ev := range evs {
		var acts []Action
		n, acts = Step(n, ev, now)
		all = append(all, acts...)
	}
	return n, all
}

func has[T Action](acts []Action) bool {
	for _, a := range acts {
		if _, ok := a.(T); ok {
			return true
		}
	}
	return false
}

func descs(acts []Action) string {
	var d []string
	for _, a := range acts {
		if e, ok := a.(AppendEvent); ok {
			d = append(d, e.Record.Description+" ["+e.Record.Remarks+"]")
		}
	}
	return strings.Join(d, " | ")
}

func refusal(acts []Action) string {
	for _, a := range acts {
		if r, ok := a.(Refused); ok {
			return r.Reason
		}
	}
	return ""
}

// Nodes in the typical states of the seed's walk-through.
func primaryActive() Node {
	n := primarySyncing()
	n, _ = Step(n, ReplicationSynced{}, t0)
	return n
}

// primarySyncing is a primary whose initial sync to the secondary runs.
func primarySyncing() Node {
	n, _ := New(cfgOf(Primary, Automatic, Manual), t0)
	n, _ = Step(n, Heartbeat{State: SecondaryActive, Epoch: 0}, t0)
	return n
}

func secondaryActive(fo Mode) Node {
	n, _ := New(cfgOf(Secondary, fo, Manual), t0)
	n, _ = Step(n, Heartbeat{State: PrimaryActive, HoldsVIP: true}, t0)
	return n
}

func failoverActive(fb Mode) Node {
	n := secondaryActive(Automatic)
	n.Config.FailbackType = fb
	n, _ = run(n, t0, PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{}, InstanceStarted{})
	n, _ = Step(n, Heartbeat{State: Terminated, Epoch: 0}, t0)
	return n
}

func terminated() Node {
	n := primaryActive()
	n, _ = Step(n, Started{}, t0)
	n, _ = Step(n, Heartbeat{State: FailoverActive, Epoch: 1, HoldsVIP: true}, t0)
	return n
}

type check struct {
	state    State
	holds    bool
	epoch    int // -1: do not check
	present  []func([]Action) bool
	absent   []func([]Action) bool
	events   []string // substrings of the events log, in any order
	noEvents []string
	refused  string // substring of the refusal reason
}

func (c check) verify(t *testing.T, n Node, acts []Action) {
	t.Helper()
	if n.State != c.state {
		t.Errorf("state = %s, want %s (events: %s)", n.State, c.state, descs(acts))
	}
	if n.HoldsVIP != c.holds {
		t.Errorf("HoldsVIP = %v, want %v", n.HoldsVIP, c.holds)
	}
	if c.epoch >= 0 && n.Epoch != uint64(c.epoch) {
		t.Errorf("epoch = %d, want %d", n.Epoch, c.epoch)
	}
	for i, p := range c.present {
		if !p(acts) {
			t.Errorf("expected action #%d missing in %#v", i, acts)
		}
	}
	for i, p := range c.absent {
		if p(acts) {
			t.Errorf("unexpected action #%d in %#v", i, acts)
		}
	}
	d := descs(acts)
	for _, e := range c.events {
		if !strings.Contains(d, e) {
			t.Errorf("events %q lack %q", d, e)
		}
	}
	for _, e := range c.noEvents {
		if strings.Contains(d, e) {
			t.Errorf("events %q must not contain %q", d, e)
		}
	}
	if r := refusal(acts); c.refused != "" && !strings.Contains(r, c.refused) {
		t.Errorf("refusal %q lacks %q", r, c.refused)
	} else if c.refused == "" && r != "" {
		t.Errorf("unexpected refusal %q", r)
	}
}

var (
	addVIP    = has[AddVIP]
	removeVIP = has[RemoveVIP]
	startInst = has[StartInstance]
	stopInst  = has[StopInstance]
	syncAct   = has[Sync]
	probeVIP  = has[ProbeVIP]
	probeGW   = has[ProbeGateway]
	askWit    = has[AskWitness]
	askPeer   = has[AskPeerClaim]
	sendState = has[SendState]
)

func syncKind(k SyncKind) func([]Action) bool {
	return func(acts []Action) bool {
		for _, a := range acts {
			if s, ok := a.(Sync); ok && s.Kind == k {
				return true
			}
		}
		return false
	}
}

func TestTransitions(t *testing.T) {
	later := t0.Add(time.Hour)
	tests := []struct {
		name  string
		start func() Node
		at    time.Time
		evs   []Event
		want  check
	}{
		{"new primary serves", func() Node { return Node{} }, t0, nil,
			check{state: PrimaryActive, holds: true, epoch: 0}},
		{"primary hears secondary: heartbeats up, initial sync",
			func() Node { n, _ := New(cfgOf(Primary, Manual, Manual), t0); return n }, t0,
			[]Event{Heartbeat{State: SecondaryActive}},
			check{state: PrimaryActive, holds: true, epoch: 0, present: []func([]Action) bool{syncKind(SyncInitial)},
				events: []string{MsgHeartbeatsUp, MsgSyncInProgress}}},
		{"sync done: Active", primarySyncing, t0, []Event{ReplicationSynced{}},
			check{state: PrimaryActive, holds: true, epoch: 0, events: []string{MsgActive}}},
		{"suspicion gathers the votes early but does not claim", func() Node { return secondaryActive(Automatic) }, t0,
			[]Event{PeerSuspect{}, GatewayProbe{Reachable: true}, VIPProbe{}},
			check{state: SecondaryActive, epoch: 0, present: []func([]Action) bool{probeVIP, probeGW}, absent: []func([]Action) bool{addVIP}}},
		{"down after suspicion claims at once with the early votes", func() Node { return secondaryActive(Automatic) }, t0,
			[]Event{PeerSuspect{}, GatewayProbe{Reachable: true}, VIPProbe{}, PeerDown{}},
			check{state: FailoverInvoked, holds: true, epoch: 1, present: []func([]Action) bool{addVIP}}},
		{"heartbeat after suspicion voids the early votes", func() Node { return secondaryActive(Automatic) }, t0,
			[]Event{PeerSuspect{}, GatewayProbe{Reachable: true}, VIPProbe{}, Heartbeat{State: PrimaryActive, HoldsVIP: true}, PeerDown{}},
			check{state: SecondaryActive, epoch: 0, absent: []func([]Action) bool{addVIP}}},
		{"manual failover type gathers no votes on suspicion", func() Node { return secondaryActive(Manual) }, t0,
			[]Event{PeerSuspect{}},
			check{state: SecondaryActive, epoch: 0, absent: []func([]Action) bool{probeVIP}}},
		{"automatic failover waits for votes", func() Node { return secondaryActive(Automatic) }, t0,
			[]Event{PeerDown{}},
			check{state: SecondaryActive, epoch: 0, present: []func([]Action) bool{probeVIP, probeGW},
				absent: []func([]Action) bool{addVIP, askWit}, events: []string{MsgHeartbeatsDown}}},
		{"automatic failover with gateway and free VIP", func() Node { return secondaryActive(Automatic) }, t0,
			[]Event{PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{}},
			check{state: FailoverInvoked, holds: true, epoch: 1, present: []func([]Action) bool{addVIP, startInst, sendState},
				events: []string{MsgFailoverReconfigure, MsgFailoverStarting}}},
		{"failover active once the instance runs", func() Node { return secondaryActive(Automatic) }, t0,
			[]Event{PeerDown{}, VIPProbe{}, GatewayProbe{Reachable: true}, InstanceStarted{}},
			check{state: FailoverActive, holds: true, epoch: 1, events: []string{MsgFailoverActive}}},
		{"witness must agree", func() Node { n := secondaryActive(Automatic); n.Config.Witness = true; return n }, t0,
			[]Event{PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{}},
			check{state: SecondaryActive, epoch: 0, present: []func([]Action) bool{askWit}, absent: []func([]Action) bool{addVIP}}},
		{"witness agrees", func() Node { n := secondaryActive(Automatic); n.Config.Witness = true; return n }, t0,
			[]Event{PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{}, WitnessVote{PeerDown: true}},
			check{state: FailoverInvoked, holds: true, epoch: 1}},
		{"witness disagrees", func() Node { n := secondaryActive(Automatic); n.Config.Witness = true; return n }, t0,
			[]Event{PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{}, WitnessVote{PeerDown: false}},
			check{state: SecondaryActive, epoch: 0, absent: []func([]Action) bool{addVIP}, events: []string{"witness still sees"}}},
		{"isolated secondary does not steal the VIP", func() Node { return secondaryActive(Automatic) }, t0,
			[]Event{PeerDown{}, GatewayProbe{Reachable: false}, VIPProbe{}},
			check{state: SecondaryActive, epoch: 0, absent: []func([]Action) bool{addVIP}, events: []string{"gateway does not answer"}}},
		{"VIP answered by another MAC: no claim", func() Node { return secondaryActive(Automatic) }, t0,
			[]Event{PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{Owner: "02:00:00:00:00:01"}},
			check{state: SecondaryActive, epoch: 0, absent: []func([]Action) bool{addVIP}, events: []string{"split brain avoided"}}},
		{"standby without a complete replica refuses to take over", func() Node { return secondaryActive(Automatic) }, t0,
			[]Event{ReplicaUsable{Reason: "initial sync stopped at 40%"}, PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{}},
			check{state: SecondaryActive, epoch: 0, absent: []func([]Action) bool{addVIP, startInst}, events: []string{MsgTakeoverRefused, "initial sync stopped at 40%"}}},
		{"switchover to a standby without a complete replica is refused", func() Node { return secondaryActive(Automatic) }, t0,
			[]Event{ReplicaUsable{}, Switchover{Force: true}},
			check{state: SecondaryActive, epoch: 0, absent: []func([]Action) bool{addVIP, startInst, sendState},
				events: []string{"Switchover refused"}, refused: "no complete copy of the instance data (the initial sync never completed)"}},
		{"a standby without a complete replica does not take over from a silent primary", func() Node { return secondaryActive(Automatic) }, t0,
			[]Event{ReplicaUsable{}, PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{}},
			check{state: SecondaryActive, epoch: 0, absent: []func([]Action) bool{addVIP, startInst}, events: []string{"initial sync never completed"}}},
		{"switchover during the initial sync is refused, even forced", primarySyncing, t0,
			[]Event{ReplicationProgress{Percent: 42}, Switchover{Force: true}},
			check{state: PrimaryActive, holds: true, epoch: 0, absent: []func([]Action) bool{removeVIP, stopInst},
				events: []string{"Switchover refused"}, refused: "initial synchronization with the secondary is 42% complete"}},
		{"a replica usable again takes over", func() Node { return secondaryActive(Automatic) }, t0,
			[]Event{ReplicaUsable{Reason: "copying"}, ReplicaUsable{Usable: true}, PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{}},
			check{state: FailoverInvoked, holds: true, epoch: 1, present: []func([]Action) bool{addVIP, startInst}}},
		{"manual failover type never fails over alone", func() Node { return secondaryActive(Manual) }, t0,
			[]Event{PeerDown{}, Tick{}, GatewayProbe{Reachable: true}, VIPProbe{}},
			check{state: SecondaryActive, epoch: 0, absent: []func([]Action) bool{addVIP, probeVIP}, events: []string{"failover type is manual"}}},
		{"heartbeat back before the votes cancels the takeover", func() Node { return secondaryActive(Automatic) }, t0,
			[]Event{PeerDown{}, GatewayProbe{Reachable: true}, Heartbeat{State: PrimaryActive, HoldsVIP: true}, VIPProbe{}},
			check{state: SecondaryActive, epoch: 0, absent: []func([]Action) bool{addVIP}}},
		{"graceful shutdown of the primary is not a crash", func() Node { return secondaryActive(Automatic) }, t0,
			[]Event{Heartbeat{State: GracefulShutdown, Graceful: true}, PeerDown{}, Tick{}},
			check{state: SecondaryActive, epoch: 0, absent: []func([]Action) bool{probeVIP, addVIP}, events: []string{"shut down gracefully"}}},
		{"local graceful shutdown releases", func() Node { return primaryActive() }, t0,
			[]Event{ShutdownRequested{}},
			check{state: GracefulShutdown, epoch: 0, present: []func([]Action) bool{removeVIP, stopInst, sendState}, events: []string{MsgGracefulShutdown}}},
		{"switchover on the primary stops its services", primaryActive, t0, []Event{Switchover{}},
			check{state: FailoverInvoked, epoch: 0, present: []func([]Action) bool{removeVIP, stopInst, sendState}, events: []string{MsgFailoverShutdown}}},
		{"secondary takes over when the primary released", func() Node { return secondaryActive(Manual) }, t0,
			[]Event{Heartbeat{State: FailoverInvoked}, VIPProbe{}},
			check{state: FailoverInvoked, holds: true, epoch: 1, present: []func([]Action) bool{addVIP, startInst},
				events: []string{MsgFailoverShutdown, MsgFailoverReconfigure, MsgFailoverStarting}}},
		{"switchover asked on the secondary waits for the primary", func() Node { return secondaryActive(Manual) }, t0,
			[]Event{Switchover{}},
			check{state: FailoverInvoked, epoch: 0, present: []func([]Action) bool{sendState}, absent: []func([]Action) bool{addVIP, probeVIP}}},
		{"primary honours the secondary's switchover", primaryActive, t0,
			[]Event{Heartbeat{State: FailoverInvoked}},
			check{state: FailoverInvoked, epoch: 0, present: []func([]Action) bool{removeVIP, stopInst}}},
		{"switched-over primary shows TERMINATED", primaryActive, t0,
			[]Event{Switchover{}, Heartbeat{State: FailoverActive, Epoch: 1, HoldsVIP: true}},
			check{state: Terminated, epoch: 0, absent: []func([]Action) bool{addVIP}}},
		{"switchover refused on a TERMINATED primary", terminated, t0, []Event{Switchover{}},
			check{state: Terminated, epoch: 0, refused: "needs this primary in PRIMARY_ACTIVE"}},
		{"switchover refused without a reachable secondary", primaryActive, t0, []Event{PeerDown{}, Switchover{}},
			check{state: PrimaryActive, holds: true, epoch: 0, refused: "unreachable"}},
		{"switchover refused right after a failback", func() Node { n := primaryActive(); n.LastFailback = t0; return n }, t0.Add(time.Minute),
			[]Event{Switchover{}},
			check{state: PrimaryActive, holds: true, epoch: 0, refused: "29 minutes remaining"}},
		{"forced switchover inside the window", func() Node { n := primaryActive(); n.LastFailback = t0; return n }, t0.Add(time.Minute),
			[]Event{Switchover{Force: true}},
			check{state: FailoverInvoked, epoch: 0, present: []func([]Action) bool{removeVIP}}},
		{"restarted primary holds nothing until it hears the peer", primaryActive, t0, []Event{Started{}},
			check{state: StateInitializing, epoch: 0, present: []func([]Action) bool{removeVIP, stopInst}, absent: []func([]Action) bool{addVIP}}},
		{"restarted primary while the secondary serves: TERMINATED", primaryActive, t0,
			[]Event{Started{}, Heartbeat{State: FailoverActive, Epoch: 1, HoldsVIP: true}, VIPProbe{}, Tick{}},
			check{state: Terminated, epoch: 0, absent: []func([]Action) bool{addVIP}, events: []string{MsgPrimaryTerminated}}},
		{"restarted primary with a standing-by secondary serves again", primaryActive, t0,
			[]Event{Started{}, Heartbeat{State: SecondaryActive}, VIPProbe{}},
			check{state: PrimaryActive, holds: true, epoch: 2, present: []func([]Action) bool{addVIP, startInst}}},
		{"restarted primary alone waits the failover wait then takes its votes", primaryActive, t0,
			[]Event{Started{}, Tick{}},
			check{state: StateInitializing, epoch: 0, absent: []func([]Action) bool{probeVIP}}},
		{"TERMINATED primary stays TERMINATED across restarts", terminated, t0, []Event{Started{}},
			check{state: Terminated, epoch: 0}},
		{"restart after graceful shutdown uses the last shutdown state", func() Node {
			n, _ := run(terminated(), t0, ShutdownRequested{})
			return n
		}, t0, []Event{Started{}},
			check{state: Terminated, epoch: 0}},
		{"restarted secondary that served waits for the primary", func() Node { return failoverActive(Manual) }, t0,
			[]Event{Started{}},
			check{state: StateInitializing, epoch: 1, present: []func([]Action) bool{removeVIP}}},
		{"restarted secondary reclaims from a TERMINATED primary", func() Node { return failoverActive(Manual) }, t0,
			[]Event{Started{}, Heartbeat{State: Terminated}, VIPProbe{}},
			check{state: FailoverInvoked, holds: true, epoch: 3}},
		{"split brain: primary with older epoch releases", primaryActive, t0,
			[]Event{Heartbeat{State: FailoverActive, Epoch: 1, HoldsVIP: true}},
			check{state: Terminated, epoch: 0, present: []func([]Action) bool{removeVIP, stopInst}, events: []string{MsgSplitBrain, "releasing"}}},
		{"split brain: secondary with newer epoch keeps", func() Node { return failoverActive(Manual) }, t0,
			[]Event{Heartbeat{State: PrimaryActive, Epoch: 0, HoldsVIP: true}},
			check{state: FailoverActive, holds: true, epoch: 1, absent: []func([]Action) bool{removeVIP}, events: []string{MsgSplitBrain, "keeping"}}},
		{"split brain: secondary with older epoch releases", func() Node { return failoverActive(Manual) }, t0,
			[]Event{Heartbeat{State: PrimaryActive, Epoch: 2, HoldsVIP: true}},
			check{state: SecondaryActive, epoch: 1, present: []func([]Action) bool{removeVIP}, events: []string{MsgSplitBrain}}},
		{"ARP sees another owner while partitioned: wait for heartbeats", func() Node { return failoverActive(Manual) }, t0,
			[]Event{PeerDown{}, VIPProbe{Owner: "02:00:00:00:00:09"}},
			check{state: FailoverActive, holds: true, epoch: 1, present: []func([]Action) bool{sendState}, absent: []func([]Action) bool{removeVIP},
				events: []string{"waiting for heartbeats"}}},
		{"ARP conflict then heartbeats: the newer epoch keeps", func() Node {
			n, _ := run(failoverActive(Manual), t0, PeerDown{}, VIPProbe{Owner: "02:00:00:00:00:09"})
			return n
		}, t0.Add(time.Second), []Event{Heartbeat{State: PrimaryActive, Epoch: 0, HoldsVIP: true}, VIPProbe{Owner: "02:00:00:00:00:09"}},
			check{state: FailoverActive, holds: true, epoch: 1, absent: []func([]Action) bool{removeVIP}}},
		{"a stranger answers for the VIP a whole wait without heartbeats: the secondary asks the primary, keeps the VIP meanwhile", func() Node {
			n, _ := run(failoverActive(Manual), t0, PeerDown{}, VIPProbe{Owner: "02:00:00:00:00:09"})
			return n
		}, t0.Add(11 * time.Second), []Event{VIPProbe{Owner: "02:00:00:00:00:09"}},
			check{state: FailoverActive, holds: true, epoch: 1, present: []func([]Action) bool{askPeer}, absent: []func([]Action) bool{removeVIP}}},
		{"a stranger answers for the VIP and the primary does not answer its API: the secondary keeps the VIP", func() Node {
			n, _ := run(failoverActive(Manual), t0, PeerDown{}, VIPProbe{Owner: "02:00:00:00:00:09"})
			return n
		}, t0.Add(11 * time.Second), []Event{VIPProbe{Owner: "02:00:00:00:00:09"}, PeerClaim{}},
			check{state: FailoverActive, holds: true, epoch: 1, absent: []func([]Action) bool{removeVIP}, events: []string{MsgSplitBrain, "does not answer", "the secondary keeps it"}}},
		{"a stranger answers for the VIP and the primary confirms a newer claim over its API: the secondary releases it", func() Node {
			n, _ := run(failoverActive(Manual), t0, PeerDown{}, VIPProbe{Owner: "02:00:00:00:00:09"})
			return n
		}, t0.Add(11 * time.Second), []Event{VIPProbe{Owner: "02:00:00:00:00:09"}, PeerClaim{Answered: true, HoldsVIP: true, Epoch: 2}},
			check{state: SecondaryActive, epoch: 1, present: []func([]Action) bool{removeVIP, sendState}, events: []string{MsgSplitBrain, "the secondary releases it"}}},
		{"ARP probes that keep seeing a conflict ask the peer at most once per failover wait", func() Node {
			n, _ := run(failoverActive(Manual), t0, PeerDown{}, VIPProbe{Owner: "02:00:00:00:00:09"})
			n, _ = run(n, t0.Add(11*time.Second), VIPProbe{Owner: "02:00:00:00:00:09"})
			return n
		}, t0.Add(15 * time.Second), []Event{VIPProbe{Owner: "02:00:00:00:00:09"}, VIPProbe{Owner: "02:00:00:00:00:09"}, PeerClaim{}},
			check{state: FailoverActive, holds: true, epoch: 1, absent: []func([]Action) bool{askPeer, removeVIP}}},
		{"the primary answers for the VIP a whole wait without heartbeats: the secondary's newer takeover keeps it", func() Node {
			n, _ := run(failoverActive(Manual), t0, PeerDown{}, VIPProbe{Owner: "02:00:00:00:00:02", ByPeer: true})
			return n
		}, t0.Add(11 * time.Second), []Event{VIPProbe{Owner: "02:00:00:00:00:02", ByPeer: true}},
			check{state: FailoverActive, holds: true, epoch: 1, absent: []func([]Action) bool{removeVIP}, events: []string{MsgSplitBrain, "newer claim: keeping it"}}},
		{"a stranger answers for the VIP while partitioned: primary keeps", primaryActive, t0,
			[]Event{PeerDown{}, VIPProbe{Owner: "02:00:00:00:00:09"}, Tick{}, VIPProbe{Owner: "02:00:00:00:00:09"}},
			check{state: PrimaryActive, holds: true, epoch: 0, events: []string{MsgSplitBrain}}},
		{"the peer's address and the VIP answer ARP alike a whole wait without heartbeats: the primary asks the peer, keeps the VIP meanwhile", func() Node {
			n, _ := run(primaryActive(), t0, PeerDown{}, VIPProbe{Owner: "02:00:00:00:00:03", ByPeer: true})
			return n
		}, t0.Add(11 * time.Second), []Event{VIPProbe{Owner: "02:00:00:00:00:03", ByPeer: true}},
			check{state: PrimaryActive, holds: true, epoch: 0, present: []func([]Action) bool{askPeer}, absent: []func([]Action) bool{removeVIP, stopInst}}},
		{"the peer confirms over its API that it holds the VIP under a newer epoch: primary releases it, TERMINATED", func() Node {
			n, _ := run(primaryActive(), t0, PeerDown{}, VIPProbe{Owner: "02:00:00:00:00:03", ByPeer: true})
			return n
		}, t0.Add(11 * time.Second), []Event{VIPProbe{Owner: "02:00:00:00:00:03", ByPeer: true}, PeerClaim{Answered: true, HoldsVIP: true, Epoch: 1}},
			check{state: Terminated, epoch: 0, present: []func([]Action) bool{removeVIP, stopInst, sendState}, events: []string{MsgSplitBrain, "the primary releases it"}}},
		{"ARP answers as if by the peer, which does not answer its API: primary keeps the VIP", func() Node {
			n, _ := run(primaryActive(), t0, PeerDown{}, VIPProbe{Owner: "02:00:00:00:00:03", ByPeer: true})
			return n
		}, t0.Add(11 * time.Second), []Event{VIPProbe{Owner: "02:00:00:00:00:03", ByPeer: true}, PeerClaim{}},
			check{state: PrimaryActive, holds: true, epoch: 0, absent: []func([]Action) bool{removeVIP, stopInst}, events: []string{MsgSplitBrain, "does not answer", "the primary keeps it"}}},
		{"ARP answers as if by the peer, which says over its API it stands by: primary keeps the VIP", func() Node {
			n, _ := run(primaryActive(), t0, PeerDown{}, VIPProbe{Owner: "02:00:00:00:00:03", ByPeer: true})
			return n
		}, t0.Add(11 * time.Second), []Event{VIPProbe{Owner: "02:00:00:00:00:03", ByPeer: true}, PeerClaim{Answered: true, Epoch: 1}},
			check{state: PrimaryActive, holds: true, epoch: 0, absent: []func([]Action) bool{removeVIP, stopInst}, events: []string{MsgSplitBrain, "does not confirm", "the primary keeps it"}}},
		{"a late answer from the peer after heartbeats are back changes nothing", func() Node {
			n, _ := run(primaryActive(), t0, PeerDown{}, VIPProbe{Owner: "02:00:00:00:00:03", ByPeer: true})
			return n
		}, t0.Add(11 * time.Second), []Event{VIPProbe{Owner: "02:00:00:00:00:03", ByPeer: true}, Heartbeat{State: SecondaryActive}, PeerClaim{Answered: true, HoldsVIP: true, Epoch: 1}},
			check{state: PrimaryActive, holds: true, epoch: 0, absent: []func([]Action) bool{removeVIP, stopInst}}},
		{"the secondary answers for the VIP, heartbeats silent, inside the wait: primary still holds", func() Node {
			n, _ := run(primaryActive(), t0, PeerDown{}, VIPProbe{Owner: "02:00:00:00:00:03", ByPeer: true})
			return n
		}, t0.Add(5 * time.Second), []Event{VIPProbe{Owner: "02:00:00:00:00:03", ByPeer: true}},
			check{state: PrimaryActive, holds: true, epoch: 0, absent: []func([]Action) bool{removeVIP}}},
		{"failback refused inside the stabilization window", func() Node { return failoverActive(Manual) }, t0.Add(10 * time.Minute),
			[]Event{Failback{}},
			check{state: FailoverActive, holds: true, epoch: 1, refused: "20 minutes remaining"}},
		{"forced failback inside the window", func() Node { return failoverActive(Manual) }, t0.Add(10 * time.Minute),
			[]Event{Failback{Force: true}},
			check{state: FailbackActive, holds: true, epoch: 1, events: []string{MsgFailbackInvoked}}},
		{"failback refused with an unreachable primary", func() Node { return failoverActive(Manual) }, later,
			[]Event{PeerDown{}, Failback{}},
			check{state: FailoverActive, holds: true, epoch: 1, refused: "unreachable"}},
		{"forced failback on a TERMINATED primary whose secondary is gone", terminated, later,
			[]Event{PeerDown{}, Failback{Force: true}, VIPProbe{}},
			check{state: PrimaryActive, holds: true, epoch: 2, present: []func([]Action) bool{addVIP}}},
		{"failback without force refused when the secondary is gone", terminated, later,
			[]Event{PeerDown{}, Failback{}},
			check{state: Terminated, epoch: 0, refused: "force on a TERMINATED primary"}},
		{"failback on the primary", terminated, later, []Event{Failback{}},
			check{state: FailbackActive, epoch: 0, events: []string{MsgFailbackInvoked}}},
		{"failback on the primary refused right after learning of the failover", terminated, t0.Add(time.Minute), []Event{Failback{}},
			check{state: Terminated, epoch: 0, refused: "stabilize"}},
		{"failback refused on a serving primary", primaryActive, later, []Event{Failback{}},
			check{state: PrimaryActive, holds: true, epoch: 0, refused: "needs the primary TERMINATED"}},
		{"secondary follows the primary's failback, then copies back", func() Node { return failoverActive(Manual) }, later,
			[]Event{Heartbeat{State: FailbackActive}, Heartbeat{State: FailbackComplete}},
			check{state: SecondaryAlone, holds: true, epoch: 1, present: []func([]Action) bool{syncKind(SyncCopyBack)},
				events: []string{MsgFailbackStarting}}},
		{"copy-back done: secondary hands back", func() Node { return failoverActive(Manual) }, later,
			[]Event{Heartbeat{State: FailbackActive}, Heartbeat{State: FailbackComplete}, ReplicationSynced{}},
			check{state: SecondaryActive, epoch: 1, present: []func([]Action) bool{removeVIP, stopInst, sendState}, events: []string{MsgFailbackDone}}},
		{"primary: FAILBACK_ACTIVE then FAILBACK_COMPLETE then PRIMARY_ACTIVE", terminated, later,
			[]Event{Failback{}, Heartbeat{State: FailbackActive, Epoch: 1, HoldsVIP: true}, Heartbeat{State: SecondaryAlone, Epoch: 1, HoldsVIP: true},
				Heartbeat{State: SecondaryActive, Epoch: 1}, VIPProbe{}},
			check{state: PrimaryActive, holds: true, epoch: 2, present: []func([]Action) bool{addVIP, startInst, syncAct}, events: []string{MsgActive}}},
		{"a heartbeat already on its way does not abort a failback", func() Node { return failoverActive(Manual) }, later,
			[]Event{Failback{}, Heartbeat{State: Terminated}, Tick{}},
			check{state: FailbackActive, holds: true, epoch: 1}},
		{"failback aborted when the primary stays TERMINATED", func() Node {
			n, _ := run(failoverActive(Manual), later, Failback{})
			return n
		}, later.Add(11 * time.Second),
			[]Event{Tick{}},
			check{state: FailoverActive, holds: true, epoch: 1, events: []string{MsgFailbackAborted}}},
		{"primary's failback survives a FAILOVER_ACTIVE heartbeat in flight", terminated, later,
			[]Event{Failback{}, Heartbeat{State: FailoverActive, Epoch: 1, HoldsVIP: true, Graceful: false}, Tick{}},
			check{state: FailbackActive, epoch: 0}},
		{"failback aborted when the primary vanishes", func() Node { return failoverActive(Manual) }, later,
			[]Event{Heartbeat{State: FailbackActive}, PeerDown{}},
			check{state: FailoverActive, holds: true, epoch: 1, events: []string{MsgFailbackAborted}}},
		{"automatic failback deferred inside the window", func() Node { return failoverActive(Automatic) }, t0.Add(time.Minute),
			[]Event{ReplicationSynced{}},
			check{state: FailoverActive, holds: true, epoch: 1, events: []string{"automatic failback waits"}}},
		{"automatic failback once synced and stable", func() Node { return failoverActive(Automatic) }, later,
			[]Event{ReplicationSynced{}},
			check{state: FailbackActive, holds: true, epoch: 1, events: []string{MsgFailbackInvoked}}},
		{"manual failback type does not fail back alone", func() Node { return failoverActive(Manual) }, later,
			[]Event{ReplicationSynced{}, Tick{}},
			check{state: FailoverActive, holds: true, epoch: 1, noEvents: []string{MsgFailbackInvoked}}},
		{"automatic failover not subject to the window", func() Node {
			n := secondaryActive(Automatic)
			n.LastFailback = t0
			return n
		}, t0, []Event{PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{}},
			check{state: FailoverInvoked, holds: true, epoch: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.start()
			var acts []Action
			if n.State == "" { // the "new" case checks New itself
				n, acts = New(cfgOf(Primary, Manual, Manual), t0)
				tc.want.present = []func([]Action) bool{addVIP, startInst}
				tc.want.events = []string{MsgConfigCreated}
			}
			n2, acts2 := run(n, tc.at, tc.evs...)
			tc.want.verify(t, n2, append(acts, acts2...))
		})
	}
}

// Step must not change its input (the node is a value, but Claim and the
// peer view are nested: make sure nothing aliases).
func TestStepIsPure(t *testing.T) {
	n := secondaryActive(Automatic)
	before := fmt.Sprintf("%#v", n)
	Step(n, PeerDown{}, t0)
	Step(n, Switchover{}, t0)
	if after := fmt.Sprintf("%#v", n); after != before {
		t.Fatalf("Step modified its input:\n%s\n%s", before, after)
	}
}

func TestPrimaryAloneAfterRestartClaimsWithVotes(t *testing.T) {
	n := primaryActive()
	n, _ = Step(n, Started{}, t0)
	n, acts := Step(n, Tick{}, t0.Add(11*time.Second))
	if !probeVIP(acts) || !probeGW(acts) {
		t.Fatalf("after the wait the primary must probe VIP and gateway: %#v", acts)
	}
	n, acts = run(n, t0.Add(11*time.Second), VIPProbe{}, GatewayProbe{Reachable: true})
	if n.State != PrimaryActive || !n.HoldsVIP || n.Epoch != 2 || !addVIP(acts) {
		t.Fatalf("state %s holds %v epoch %d acts %#v", n.State, n.HoldsVIP, n.Epoch, acts)
	}
}

func TestGracefulTimeoutThenFailover(t *testing.T) {
	n := secondaryActive(Automatic)
	n, _ = run(n, t0, Heartbeat{State: GracefulShutdown, Graceful: true}, PeerDown{})
	if n.Claim.Active {
		t.Fatal("claimed during a graceful shutdown")
	}
	n, acts := Step(n, Tick{}, t0.Add(6*time.Minute))
	if !probeVIP(acts) || !n.Claim.Active {
		t.Fatalf("a peer gone past the graceful timeout must count as failed: %#v", acts)
	}
}

func TestSecondaryReclaimsOnlyAfterTerminatedPrimaryWaited(t *testing.T) {
	// A primary whose secondary refuses to take over (N:1 busy) serves
	// again after a whole failover wait.
	n := primaryActive()
	n, _ = run(n, t0, Switchover{}, Heartbeat{State: SecondaryActive})
	if n.State != FailoverInvoked || n.Claim.Active {
		t.Fatalf("must wait for the secondary first: %s claim %v", n.State, n.Claim.Active)
	}
	n, acts := run(n, t0.Add(11*time.Second), Tick{}, VIPProbe{})
	if n.State != PrimaryActive || !addVIP(acts) {
		t.Fatalf("state %s, acts %#v", n.State, acts)
	}
}

func TestIncompleteReplicaRetriedOnceComplete(t *testing.T) {
	n := secondaryActive(Automatic)
	n, acts := run(n, t0, ReplicaUsable{Reason: "initial sync at 10%"}, PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{})
	if n.HoldsVIP || n.Claim.Active || addVIP(acts) || n.ReplicaIncomplete == "" {
		t.Fatalf("claimed with an incomplete replica: holds %v claim %v acts %#v", n.HoldsVIP, n.Claim.Active, acts)
	}
	n, acts = run(n, t0.Add(time.Second), Tick{})
	if strings.Contains(descs(acts), MsgTakeoverRefused) {
		t.Fatalf("the refusal must be logged once while it lasts: %s", descs(acts))
	}
	later := t0.Add(time.Minute)
	n, _ = run(n, later, ReplicaUsable{Usable: true}, Tick{})
	if !n.Claim.Active {
		t.Fatal("a silent primary must be claimed again once the replica is complete")
	}
	n, acts = run(n, later, GatewayProbe{Reachable: true}, VIPProbe{})
	if !n.HoldsVIP || n.State != FailoverInvoked || !addVIP(acts) {
		t.Fatalf("state %s holds %v acts %#v", n.State, n.HoldsVIP, acts)
	}
}

func TestNextEpochParity(t *testing.T) {
	for base := uint64(0); base < 10; base++ {
		p, s := nextEpoch(Primary, base), nextEpoch(Secondary, base)
		if p <= base || s <= base || p%2 != 0 || s%2 != 1 || p > base+2 || s > base+2 {
			t.Errorf("base %d: primary %d secondary %d", base, p, s)
		}
	}
}

func TestNToOne(t *testing.T) {
	a := cfgOf(Secondary, Automatic, Manual)
	a.Peer = "10.0.0.1"
	b := a
	b.Peer = "10.0.0.2"
	na, _ := New(a, t0)
	nb, _ := New(b, t0)
	g := []Node{na, nb}
	for i := range g {
		g, _ = StepGroup(g, i, Heartbeat{State: PrimaryActive, HoldsVIP: true}, t0)
	}
	var acts []Action
	for _, ev := range []Event{PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{}, InstanceStarted{}} {
		g, _ = StepGroup(g, 0, ev, t0)
	}
	if g[0].State != FailoverActive {
		t.Fatalf("first failover: %s", g[0].State)
	}
	if err := MayTakeOver(g, 1); err == nil {
		t.Fatal("MayTakeOver allows a second failover")
	} else if be := (*BusyError)(nil); !errors.As(err, &be) || be.ActiveFor != "10.0.0.1" {
		t.Fatalf("err = %v", err)
	}
	if err := MayTakeOver(g, 0); err != nil {
		t.Fatalf("the active relationship itself: %v", err)
	}
	for _, ev := range []Event{PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{}} {
		var a []Action
		g, a = StepGroup(g, 1, ev, t0)
		acts = append(acts, a...)
	}
	if g[1].HoldsVIP || addVIP(acts) || !strings.Contains(descs(acts), "serves one primary at a time") {
		t.Fatalf("second failover not refused: %s %s", g[1].State, descs(acts))
	}
	if r, _ := StepGroup(g, 1, Switchover{}, t0); r[1].State != SecondaryActive {
		t.Fatalf("switchover for the second primary accepted: %s", r[1].State)
	}
	// The first primary is back and takes its VIP back: the second
	// failover proceeds on the next tick.
	g, _ = StepGroup(g, 0, Heartbeat{State: PrimaryActive, Epoch: 2, HoldsVIP: true}, t0)
	if g[0].HoldsVIP {
		t.Fatal("relationship 0 still holds")
	}
	later := t0.Add(20 * time.Second)
	for _, ev := range []Event{Tick{}, GatewayProbe{Reachable: true}, VIPProbe{}} {
		g, _ = StepGroup(g, 1, ev, later)
	}
	if !g[1].HoldsVIP {
		t.Fatalf("pending failover did not proceed: %s", g[1].State)
	}
}

func TestNodeJSONRoundTripAndBadInput(t *testing.T) {
	n := failoverActive(Automatic)
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	var back Node
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%#v", back) != fmt.Sprintf("%#v", n) {
		t.Fatalf("round trip changed the node:\n%#v\n%#v", n, back)
	}
	for _, bad := range []string{
		`{"state":"PRIMARY_ACTIV"}`,
		`{"config":{"role":"tertiary"}}`,
		`{"config":{"role":"primary","failover_type":"sometimes"}}`,
		`{"peer":{"state":"bogus"}}`,
	} {
		var n Node
		if err := json.Unmarshal([]byte(bad), &n); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// BenchmarkStepHeartbeat is the cost of one heartbeat through the machine
// (hmd runs one per reported state change and one tick per wait/4).
func BenchmarkStepHeartbeat(b *testing.B) {
	n := primaryActive()
	hbs := []Event{Heartbeat{State: SecondaryActive}, Heartbeat{State: SecondaryActive, Graceful: true}, Tick{}}
	now := t0
	for i := 0; b.Loop(); i++ {
		now = now.Add(time.Millisecond)
		n, _ = Step(n, hbs[i%len(hbs)], now)
	}
}

// TestHeartbeatsUpRemarkIsWhole: the first heartbeat of a peer without a
// state yet gives a whole remark, not "peer X in ".
func TestHeartbeatsUpRemarkIsWhole(t *testing.T) {
	n, _ := New(cfgOf(Secondary, Automatic, Manual), t0)
	_, acts := run(n, t0, Heartbeat{})
	if d := descs(acts); !strings.Contains(d, MsgHeartbeatsUp+" [peer peer, no state yet]") {
		t.Fatalf("events %q", d)
	}
	_, acts = run(n, t0, Heartbeat{State: PrimaryActive, HoldsVIP: true})
	if d := descs(acts); !strings.Contains(d, MsgHeartbeatsUp+" [peer peer in PRIMARY_ACTIVE]") {
		t.Fatalf("events %q", d)
	}
}
