package ha

import (
	"testing"
	"time"
)

func TestApplicationFailures(t *testing.T) {
	const why = "tracker: 3 failures within 1 minute (exited with status 1)"
	later := t0.Add(time.Minute)
	syncedFailoverActive := func() Node {
		n := failoverActive(Manual)
		n, _ = Step(n, ReplicationSynced{}, t0)
		return n
	}
	tests := []struct {
		name  string
		start func() Node
		at    time.Time
		evs   []Event
		want  check
	}{
		{"the active primary hands a failing application to its synchronized secondary", primaryActive, t0,
			[]Event{AppFailed{Reason: why}},
			check{state: FailoverInvoked, epoch: 0, present: []func([]Action) bool{removeVIP, stopInst, sendState},
				events: []string{MsgAppFailed, MsgAppFailover + " [" + why}}},
		{"the secondary takes the service the primary released for its application", func() Node { return secondaryActive(Automatic) }, t0,
			[]Event{Heartbeat{State: FailoverInvoked}, VIPProbe{}, InstanceStarted{}},
			check{state: FailoverActive, holds: true, epoch: 1, present: []func([]Action) bool{addVIP, startInst}}},
		{"not during the initial sync: the service stays", primarySyncing, t0,
			[]Event{AppFailed{Reason: why}},
			check{state: PrimaryActive, holds: true, epoch: 0, absent: []func([]Action) bool{removeVIP, stopInst},
				events: []string{MsgAppKept + " [" + why + "; the peer is not synchronized"}}},
		{"not to an unreachable peer", primaryActive, t0,
			[]Event{PeerDown{}, AppFailed{Reason: why}},
			check{state: PrimaryActive, holds: true, epoch: 0, absent: []func([]Action) bool{removeVIP},
				events: []string{"the peer is unreachable"}}},
		{"not to a degraded peer (hold-down: no ping-pong)", primaryActive, t0,
			[]Event{Heartbeat{State: SecondaryActive, Degraded: true}, AppFailed{Reason: why}},
			check{state: PrimaryActive, holds: true, epoch: 0, absent: []func([]Action) bool{removeVIP},
				events: []string{"the peer's application failed too"}}},
		{"a secondary serving with a failing application fails back to a healthy primary", syncedFailoverActive, t0,
			[]Event{AppFailed{Reason: why}},
			check{state: FailbackActive, holds: true, epoch: 1, events: []string{MsgAppFailback}}},
		{"but not to a primary that handed it over for its own application", syncedFailoverActive, t0,
			[]Event{Heartbeat{State: Terminated, Degraded: true}, AppFailed{Reason: why}},
			check{state: FailoverActive, holds: true, epoch: 1, events: []string{MsgAppKept}, noEvents: []string{MsgAppFailback}}},
		{"a degraded standby does not take over from a silent primary", func() Node { return secondaryActive(Automatic) }, t0,
			[]Event{AppFailed{Reason: why}, PeerSuspect{}, PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{}},
			check{state: SecondaryActive, epoch: 0, absent: []func([]Action) bool{addVIP, probeVIP},
				events: []string{MsgAppFailed, "not taking over onto a broken application"}}},
		{"a standby's failure marks it degraded and tells the peer", func() Node { return secondaryActive(Automatic) }, t0,
			[]Event{AppFailed{Reason: why}},
			check{state: SecondaryActive, epoch: 0, present: []func([]Action) bool{sendState}, events: []string{MsgAppFailed + " [" + why + "; this standby is degraded"}}},
		{"the operator clears the mark", func() Node { return secondaryActive(Automatic) }, t0,
			[]Event{AppFailed{Reason: why}, AppCleared{}, PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{}},
			check{state: FailoverInvoked, holds: true, epoch: 1, events: []string{MsgAppCleared}}},
		{"a switchover onto a degraded secondary is refused", primaryActive, t0,
			[]Event{Heartbeat{State: SecondaryActive, Degraded: true}, Switchover{}},
			check{state: PrimaryActive, holds: true, epoch: 0, refused: "application failed recently"}},
		{"forced, it happens", primaryActive, t0,
			[]Event{Heartbeat{State: SecondaryActive, Degraded: true}, Switchover{Force: true}},
			check{state: FailoverInvoked, epoch: 0, present: []func([]Action) bool{removeVIP}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, acts := run(tc.start(), tc.at, tc.evs...)
			tc.want.verify(t, n, acts)
		})
	}

	// The hold-down: degraded until AppHoldDown has passed, then a tick
	// ends it and the silent primary is replaced.
	n, _ := run(secondaryActive(Automatic), t0, AppFailed{Reason: why})
	if n.AppFailure == "" {
		t.Fatal("AppFailed did not mark the node")
	}
	n, _ = run(n, t0.Add(n.Config.AppHoldDown-time.Second), Tick{})
	if n.AppFailure == "" {
		t.Fatal("the mark ended before the hold-down")
	}
	n, acts := run(n, later.Add(n.Config.AppHoldDown), Tick{}, PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{})
	check{state: FailoverInvoked, holds: true, epoch: 1, events: []string{MsgAppHoldDownEnded}}.verify(t, n, acts)
}
