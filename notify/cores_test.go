package notify

import (
	"testing"
	"time"

	"github.com/hafw/hafw/cores/plan"
)

// TestCoreEvents: the seed's core events become core-down and
// task-failover notifications, each published once by the core that
// recorded it, never replayed after a restart; a rule can pick one core.
func TestCoreEvents(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	old := CoreRecord{Time: t0, Text: plan.EventAbnormalShutdown, Core: 2, By: 1}
	seen := map[string]bool{}
	if got := CoreWatch(seen, true, []CoreRecord{old}, 1, "core1"); len(got) != 0 {
		t.Fatalf("the first read replayed %v", got)
	}
	log := []CoreRecord{old,
		{Time: t0.Add(time.Minute), Text: plan.EventAbnormalShutdown, Core: 3, By: 1, Detail: "lease of core core3 expired"},
		{Time: t0.Add(time.Minute), Text: plan.EventProcessedShutdown, Core: 4, By: 2},
		{Time: t0.Add(2 * time.Minute), Text: plan.EventNoFailover, Core: 3, By: 1},
	}
	got := CoreWatch(seen, false, log, 1, "core1")
	if len(got) != 2 || got[0].Type != TypeCoreDown || got[0].Severity != Critical || got[0].Core != "core3" ||
		got[1].Type != TypeTaskFailover || got[1].Severity != Critical {
		t.Fatalf("published %+v", got)
	}
	if again := CoreWatch(seen, false, log, 1, "core1"); len(again) != 0 {
		t.Errorf("published twice: %v", again)
	}
	rule := Rule{Name: "core3", Types: []Type{TypeCoreDown}, Cores: []string{"core3"}, MinSeverity: Critical, Target: "trap:nms"}
	if !rule.Matches(got[0]) || rule.Matches(got[1]) {
		t.Error("the rule does not pick core3's abnormal shutdown alone")
	}
	if _, ok := CoreEvent(CoreRecord{Text: "something else"}, "x"); ok {
		t.Error("an unknown record became a notification")
	}
}
