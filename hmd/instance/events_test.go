package instance

import (
	"reflect"
	"testing"

	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/hmd/replicate"
)

func TestStatusEvents(t *testing.T) {
	setting := func(pct int, stalls uint64, reason string) replicate.Status {
		return replicate.Status{State: replicate.StateSettingUp, Mode: replicate.MaxAvailability, Percent: pct, Stalls: stalls, Reason: reason}
	}
	steps := []struct {
		st   replicate.Status
		want []row
	}{
		{setting(0, 0, ""), []row{{MsgReplicationState + ": Setting up", ""}}},
		{setting(10, 0, ""), nil},
		// Coalesced reports: 20 % then 55 % gives one row for the highest
		// milestone passed.
		{setting(55, 0, ""), []row{{ha.MsgSyncInProgress, "(55% complete)"}}},
		{setting(60, 1, "no progress for 10s"), []row{{MsgReplicationStall, "no progress for 10s"}}},
		{setting(52, 1, ""), nil},
		{setting(80, 1, ""), []row{{ha.MsgSyncInProgress, "(80% complete)"}}},
		{replicate.Status{State: replicate.StateUp, Mode: replicate.MaxAvailability, Percent: 100, LastSeq: 7, Stalls: 1},
			[]row{{MsgReplicationState + ": Up", "mode maximum-availability, sequence 7"}}},
		{replicate.Status{State: replicate.StateUp, Percent: 100, LastSeq: 9, Stalls: 1}, nil},
		{replicate.Status{State: replicate.StateDown, Reason: "standby unreachable", Stalls: 1},
			[]row{{MsgReplicationState + ": Down", "standby unreachable"}}},
		// A new sync starts its milestones again.
		{setting(30, 1, ""), []row{{MsgReplicationState + ": Setting up", ""}, {ha.MsgSyncInProgress, "(30% complete)"}}},
	}
	var evs statusEvents
	for i, s := range steps {
		if got := evs.next(s.st); !reflect.DeepEqual(got, s.want) {
			t.Errorf("step %d (%+v): got %q, want %q", i, s.st, got, s.want)
		}
	}
}
