package notify

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hafw/hafw/cores/plan"
)

// CoreRecord is one event of the horizontal mode's event log (a
// cores.Event, which this package does not import: cores needs etcd).
type CoreRecord struct {
	Time   time.Time
	Text   string
	Core   int
	By     int
	Detail string
}

// Key names the record for de-duplication.
func (r CoreRecord) Key() string {
	return fmt.Sprintf("%d/%d/%s/%s", r.Core, r.By, r.Text, r.Time.Format(time.RFC3339Nano))
}

// CoreEvent classifies a core event of seed 002 ("Distributed System --
// … Shutdown of Core") as a notification: a core that went down
// (core-down; critical when abnormal) or its tasks moved, or not
// (task-failover). Other records give false.
func CoreEvent(r CoreRecord, node string) (Event, bool) {
	e := Event{Time: r.Time, Node: node, Core: "core" + strconv.Itoa(r.Core), Text: r.Text, Reason: r.Detail}
	switch r.Text {
	case plan.EventAbnormalShutdown:
		e.Type, e.Severity = TypeCoreDown, Critical
	case plan.EventNormalShutdown:
		e.Type, e.Severity = TypeCoreDown, Warning
	case plan.EventProcessedShutdown:
		e.Type, e.Severity = TypeTaskFailover, Info
	case plan.EventNoFailover:
		e.Type, e.Severity = TypeTaskFailover, Critical
	default:
		return Event{}, false
	}
	return e, true
}

// CoreWatch picks, from the event log as read now, the events this core
// recorded that were not published yet; seen carries what was, between
// calls. The first call (seen empty) only marks the log as seen: old
// events are not replayed after a restart.
func CoreWatch(seen map[string]bool, first bool, log []CoreRecord, self int, node string) []Event {
	var out []Event
	for _, r := range log {
		k := r.Key()
		if seen[k] {
			continue
		}
		seen[k] = true
		if first || r.By != self {
			continue
		}
		if e, ok := CoreEvent(r, node); ok {
			out = append(out, e)
		}
	}
	return out
}
