package plan

import "time"

// Filter selects tasks the way the seed's "Search for Tasks" page does:
// status, failure type, core and a time range. Zero fields match anything.
type Filter struct {
	Status  Status
	Failure FailureType
	Core    int
	// Since and Until bound the task's start time when ByStart is set (the
	// seed's "Start Date", to find what a core was running when it
	// stopped), otherwise its schedule time ("Schedule Date").
	Since, Until time.Time
	ByStart      bool
}

// Match reports whether t is selected.
func (f Filter) Match(t Task) bool {
	if f.Status != "" && t.Status != f.Status {
		return false
	}
	if f.Failure != NoFailure && t.Failure != f.Failure {
		return false
	}
	if f.Core != 0 && t.Core != f.Core {
		return false
	}
	at := t.Schedule
	if f.ByStart {
		at = t.Started
	}
	if !f.Since.IsZero() && at.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && at.After(f.Until) {
		return false
	}
	return true
}

// PauseCandidate reports whether t is a non-critical task that has not
// started and is scheduled within [now, now+within] — the seed's advice
// after a failover: pause non-critical tasks due while the core is down.
func PauseCandidate(t Task, now time.Time, within time.Duration) bool {
	if t.Critical || t.IsGroup() || (t.Status != Pending && t.Status != Waiting) {
		return false
	}
	return !t.Schedule.Before(now) && !t.Schedule.After(now.Add(within))
}

// Rerun is a failed task made runnable again on core to: Pending, failure
// cleared, retries as given.
func Rerun(t Task, to int, retries int) (Task, bool) {
	if t.Status != Failed || t.IsGroup() {
		return t, false
	}
	t.Status, t.Failure, t.Core, t.Retries = Pending, NoFailure, to, retries
	t.Started, t.Finished, t.Output, t.ClaimLease = time.Time{}, time.Time{}, "", 0
	return t, true
}
