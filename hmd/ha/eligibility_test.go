package ha

import (
	"testing"
	"time"

	"github.com/hafw/hafw/appliance"
)

// TestEligibility: an appliance that may take no HA role (an unactivated
// virtual appliance) hands over the VIP it holds, claims none by any path,
// refuses the commands that would give it the service, and serves again
// the usual way once the verdict allows it.
func TestEligibility(t *testing.T) {
	barred := Eligibility{Reason: appliance.NotActivated}
	allowed := Eligibility{Reason: appliance.Configured}
	restartedPrimary := func() Node {
		n, _ := Step(primaryActive(), Started{}, t0)
		return n
	}
	tests := []struct {
		name  string
		start func() Node
		evs   []Event
		want  check
	}{
		{"the serving primary hands the VIP over", primaryActive,
			[]Event{barred},
			check{state: FailoverInvoked, epoch: 0, present: []func([]Action) bool{removeVIP, stopInst, sendState},
				events: []string{MsgRoleWithdrawn + " [HA role: none (virtual appliance not activated)]", MsgFailoverShutdown}}},
		{"the secondary then takes it", func() Node { return secondaryActive(Automatic) },
			[]Event{Heartbeat{State: FailoverInvoked}, VIPProbe{}},
			check{state: FailoverInvoked, holds: true, epoch: 1, present: []func([]Action) bool{addVIP}}},
		{"a restarted primary claims nothing and stands by for its secondary", restartedPrimary,
			[]Event{barred, Heartbeat{State: SecondaryActive}, Tick{}, PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{}},
			check{state: Terminated, epoch: 0, absent: []func([]Action) bool{addVIP, probeVIP},
				events: []string{MsgTakeoverRefused + " [HA role: none (virtual appliance not activated)]"}}},
		{"a serving secondary releases and stands by", func() Node { return failoverActive(Manual) },
			[]Event{barred},
			check{state: SecondaryActive, epoch: 1, present: []func([]Action) bool{removeVIP, sendState}, events: []string{MsgRoleWithdrawn}}},
		{"a standby secondary does not take over from a silent primary", func() Node { return secondaryActive(Automatic) },
			[]Event{barred, PeerSuspect{}, PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{}},
			check{state: SecondaryActive, epoch: 0, absent: []func([]Action) bool{addVIP, probeVIP}}},
		{"nor switches over", func() Node { return secondaryActive(Automatic) },
			[]Event{barred, Switchover{Force: true}},
			check{state: SecondaryActive, epoch: 0, absent: []func([]Action) bool{addVIP}, refused: "not activated"}},
		{"a terminated primary refuses a failback", terminated,
			[]Event{barred, Failback{Force: true}},
			check{state: Terminated, epoch: 0, absent: []func([]Action) bool{addVIP}, refused: "not activated"}},
		{"and does not follow the secondary's", terminated,
			[]Event{barred, Heartbeat{State: FailbackActive, Epoch: 1, HoldsVIP: true}},
			check{state: Terminated, epoch: 0, events: []string{"failback: HA role: none"}}},
		{"a primary does not switch over onto a secondary that may take no role", primaryActive,
			[]Event{Heartbeat{State: SecondaryActive, Ineligible: true}, Switchover{Force: true}},
			check{state: PrimaryActive, holds: true, epoch: 0, absent: []func([]Action) bool{removeVIP}, refused: "the peer may take no HA role"}},
		{"nor hands it a failing application", primaryActive,
			[]Event{Heartbeat{State: SecondaryActive, Ineligible: true}, AppFailed{Reason: "tracker exited"}},
			check{state: PrimaryActive, holds: true, epoch: 0, absent: []func([]Action) bool{removeVIP}, events: []string{"the peer may take no HA role"}}},
		{"a serving secondary does not fail back automatically to a primary that may take no role", func() Node {
			n := failoverActive(Automatic)
			n.LastFailover = t0.Add(-time.Hour) // past the stabilization window
			return n
		},
			[]Event{Heartbeat{State: Terminated, Ineligible: true}, ReplicationSynced{}, Tick{}, Failback{Force: true}},
			check{state: FailoverActive, holds: true, epoch: 1, noEvents: []string{MsgFailbackInvoked}, refused: "the peer may take no HA role"}},
		{"a license installed: the restarted primary serves again", restartedPrimary,
			[]Event{barred, allowed, PeerDown{}, Tick{}, GatewayProbe{Reachable: true}, VIPProbe{}},
			check{state: PrimaryActive, holds: true, epoch: 2, present: []func([]Action) bool{addVIP}, events: []string{MsgRoleGranted}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, acts := run(tc.start(), t0, tc.evs...)
			tc.want.verify(t, n, acts)
		})
	}
	// The verdict is logged once for as long as it lasts.
	n, _ := run(primaryActive(), t0, barred)
	if _, acts := run(n, t0, barred, barred); len(acts) != 0 {
		t.Errorf("a repeated verdict acted: %#v", acts)
	}
}
