package appmon

import (
	"fmt"
	"time"

	"github.com/hafw/hafw/internal/humantime"
)

// Health is an application's health as its checks see it.
type Health string

// Healths. Unknown is a running application before Rise successes (or
// one without a check).
const (
	Unknown   Health = "unknown"
	Healthy   Health = "healthy"
	Unhealthy Health = "unhealthy"
)

// Tracker is the pure policy of one application: rise/fall counting of
// its checks and the failures (unexpected exits, falls to unhealthy)
// within the policy's window. It knows no clock: every call gets now.
type Tracker struct {
	name   string
	rise   int
	fall   int
	policy Policy

	health   Health
	okRun    int
	failRun  int
	failures []time.Time
	last     string // the last failure's description
	detail   string // the last check's outcome
}

// NewTracker starts tracking app under p.
func NewTracker(app App, p Policy) *Tracker {
	t := &Tracker{name: app.Name, policy: p, health: Unknown, rise: 1, fall: 1}
	if app.Check != nil {
		t.rise, t.fall = app.Check.Rise, app.Check.Fall
	}
	return t
}

// Restarted forgets the check history of the previous process (its
// failures in the window stay).
func (t *Tracker) Restarted() {
	t.health, t.okRun, t.failRun = Unknown, 0, 0
}

// CheckResult records one check. fell reports that this result made the
// application unhealthy (a failure: the caller restarts it); rose that it
// made it healthy.
func (t *Tracker) CheckResult(err error, now time.Time) (fell, rose bool) {
	if err == nil {
		t.detail = "ok"
		t.failRun = 0
		t.okRun++
		if t.health != Healthy && t.okRun >= t.rise {
			t.health = Healthy
			return false, true
		}
		return false, false
	}
	t.detail = err.Error()
	t.okRun = 0
	t.failRun++
	if t.health != Unhealthy && t.failRun >= t.fall {
		t.health = Unhealthy
		t.failed(fmt.Sprintf("health check failed %d times: %v", t.failRun, err), now)
		return true, false
	}
	return false, false
}

// Exited records an unexpected end of the application's process.
func (t *Tracker) Exited(why string, now time.Time) {
	t.Restarted()
	t.failed(why, now)
}

func (t *Tracker) failed(why string, now time.Time) {
	t.last = why
	t.failures = append(t.failures, now)
}

// recent drops failures older than the window.
func (t *Tracker) recent(now time.Time) []time.Time {
	keep := t.failures[:0]
	for _, f := range t.failures {
		if now.Sub(f) < time.Duration(t.policy.Window) {
			keep = append(keep, f)
		}
	}
	t.failures = keep
	return keep
}

// Tripped reports, once per MaxFailures failures within the window, that
// the application failed for the policy, with the reason the events log
// and the state machine get. The count starts again after a trip, so an
// application that keeps failing trips again.
func (t *Tracker) Tripped(now time.Time) (string, bool) {
	if len(t.recent(now)) < t.policy.MaxFailures {
		return "", false
	}
	t.failures = nil
	return fmt.Sprintf("%s: %d failures within %s (last: %s)", t.name, t.policy.MaxFailures, humantime.Duration(time.Duration(t.policy.Window)), t.last), true
}

// Reset forgets everything (the operator's reset).
func (t *Tracker) Reset() {
	t.Restarted()
	t.failures, t.last, t.detail = nil, "", ""
}

// State is a snapshot for the status.
type State struct {
	Health Health
	// Failures counts the failures within the window now.
	Failures int
	// LastFailure and LastCheck describe the last failure and check.
	LastFailure, LastCheck string
}

// State returns the snapshot at now.
func (t *Tracker) State(now time.Time) State {
	return State{Health: t.health, Failures: len(t.recent(now)), LastFailure: t.last, LastCheck: t.detail}
}
