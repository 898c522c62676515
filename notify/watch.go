package notify

import (
	"fmt"
	"time"
)

// DefaultExpiringWithin is how long before a license's expiry the
// license-expiring notification is sent.
const DefaultExpiringWithin = 30 * 24 * time.Hour

// Reading is one look at what the state machine does not log as events of
// its own: each pair's data replication and heartbeat paths, and the
// installed licenses.
type Reading struct {
	Time     time.Time
	Peers    []PeerReading
	Licenses []LicenseReading
	// LicenseProblems are the license files that failed verification.
	LicenseProblems []string
	// Firmware is the boot slots; nil when they are unknown.
	Firmware []SlotReading
}

// SlotReading is one boot slot as GET /v1/upgrade reports it.
type SlotReading struct {
	Name, Version, State, Failure string
	Seq                           int
	// Active is the running, committed slot; Trial a slot this boot runs
	// on trial.
	Active, Trial bool
}

// key names one install of a slot.
func (s SlotReading) key() string { return fmt.Sprintf("%s/%d/%s", s.Name, s.Seq, s.Version) }

// PeerReading is one pair as hmd's status reports it.
type PeerReading struct {
	Peer string
	// Replication is the state of the replication this node ships to the
	// peer ("Up", "Setting up", "Down"); empty while it ships none (it is
	// the standby, or not serving).
	Replication string
	// Paths is each heartbeat path's state, by path name.
	Paths map[string]bool
}

// LicenseReading is one verified license; a zero Expires never expires.
type LicenseReading struct {
	ID, Feature string
	Expires     time.Time
}

// Watcher turns successive Readings into operator events on their
// transitions: replication down/up, one heartbeat path down/up while
// another still carries the pair (all of them down is the state machine's
// own "Heartbeats lost on every path"), a license entering its last
// ExpiringWithin, expiring, or failing verification. It is pure and owned
// by one goroutine; the first Reading only sets the baseline for paths
// and replication, but licenses already in trouble are reported at once
// (an operator restarting a box with an expired license must hear it).
type Watcher struct {
	Node           string
	ExpiringWithin time.Duration
	// ReportedRollback names the last failed upgrade told (slot, install
	// sequence, version). The rollback is seen at the boot after it, and
	// the failed slot stays failed across every later boot until the next
	// install: the caller keeps this across restarts so that it is told
	// once, not at every start of hmd.
	ReportedRollback string

	repl     map[string]string
	paths    map[string]map[string]bool
	lic      map[string]string // license ID → the last type sent for it
	problems map[string]bool
	trial    map[string]SlotReading // slot name → on trial at the last look
}

// Observe compares r with the previous Reading.
func (w *Watcher) Observe(r Reading) []Event {
	if w.repl == nil {
		w.repl, w.paths, w.lic, w.problems = map[string]string{}, map[string]map[string]bool{}, map[string]string{}, map[string]bool{}
	}
	var out []Event
	ev := func(t Type, sev Severity, peer, text, reason string) {
		out = append(out, Event{Time: r.Time, Type: t, Severity: sev, Node: w.Node, Peer: peer, Text: text, Reason: reason})
	}
	seen := map[string]bool{}
	for _, p := range r.Peers {
		seen[p.Peer] = true
		w.replication(p, ev)
		w.heartbeatPaths(p, ev)
	}
	for peer := range w.paths {
		if !seen[peer] {
			delete(w.paths, peer)
			delete(w.repl, peer)
		}
	}
	w.licenses(r, ev)
	w.firmware(r, ev)
	return out
}

// firmware tells a slot that was on trial and is now the committed,
// active one (the init agent committed it while hmd ran), and a failed
// slot not told before (its trial ran out of tries and the previous
// version booted by itself).
func (w *Watcher) firmware(r Reading, ev emit) {
	if r.Firmware == nil {
		return
	}
	trial := map[string]SlotReading{}
	for _, sl := range r.Firmware {
		switch {
		case sl.Trial:
			trial[sl.Name] = sl
		case sl.Active && w.trial[sl.Name].Version == sl.Version && w.trial[sl.Name].Version != "":
			ev(TypeUpgradeCommitted, Info, "", fmt.Sprintf("Firmware version %s in slot %s is healthy and committed", sl.Version, sl.Name), "slot "+sl.Name)
		case sl.State == "failed" && sl.key() != w.ReportedRollback:
			w.ReportedRollback = sl.key()
			ev(TypeUpgradeRolledBack, Critical, "", fmt.Sprintf("Upgrade to firmware version %s failed and was rolled back: %s", sl.Version, sl.Failure), "slot "+sl.Name)
		}
	}
	w.trial = trial
}

type emit func(t Type, sev Severity, peer, text, reason string)

func (w *Watcher) replication(p PeerReading, ev emit) {
	prev, known := w.repl[p.Peer]
	w.repl[p.Peer] = p.Replication
	switch {
	case p.Replication == "" || !known || prev == "":
		// Not shipping, or the first look since it started: a baseline.
		// A replication that starts out Up is told below once it drops.
	case p.Replication == "Up" && prev != "Up":
		ev(TypeReplicationUp, Info, p.Peer, "Data replication to the peer is up", "was "+prev)
	case prev == "Up" && p.Replication != "Up":
		ev(TypeReplicationDown, Critical, p.Peer, "Data replication to the peer is down", "now "+p.Replication)
	}
}

func (w *Watcher) heartbeatPaths(p PeerReading, ev emit) {
	prev, known := w.paths[p.Peer]
	w.paths[p.Peer] = p.Paths
	if !known || len(p.Paths) < 2 {
		return
	}
	anyUp := func(m map[string]bool) bool {
		for _, up := range m {
			if up {
				return true
			}
		}
		return false
	}
	if !anyUp(p.Paths) || !anyUp(prev) {
		return // every path: the state machine's heartbeat events tell it
	}
	for name, up := range p.Paths {
		was, ok := prev[name]
		switch {
		case !ok || was == up:
		case up:
			ev(TypeHeartbeatUp, Info, p.Peer, fmt.Sprintf("Heartbeat path %s to the peer is up", name), "path "+name)
		default:
			ev(TypeHeartbeatDown, Warning, p.Peer, fmt.Sprintf("Heartbeat path %s to the peer is down; the pair runs on its other paths", name), "path "+name)
		}
	}
}

func (w *Watcher) licenses(r Reading, ev emit) {
	within := w.ExpiringWithin
	if within == 0 {
		within = DefaultExpiringWithin
	}
	present := map[string]bool{}
	for _, l := range r.Licenses {
		present[l.ID] = true
		if l.Expires.IsZero() {
			continue
		}
		var t Type
		var sev Severity
		var text string
		switch left := l.Expires.Sub(r.Time); {
		case left <= 0:
			t, sev, text = TypeLicenseExpired, Critical, fmt.Sprintf("License %s (%s) expired on %s", l.ID, l.Feature, l.Expires.UTC().Format(time.DateOnly))
		case left <= within:
			t, sev, text = TypeLicenseExpiring, Warning, fmt.Sprintf("License %s (%s) expires on %s, in %d days", l.ID, l.Feature, l.Expires.UTC().Format(time.DateOnly), int(left.Hours()/24))
		default:
			delete(w.lic, l.ID)
			continue
		}
		if w.lic[l.ID] != string(t) {
			w.lic[l.ID] = string(t)
			ev(t, sev, "", text, l.Feature)
		}
	}
	for id := range w.lic {
		if !present[id] {
			delete(w.lic, id)
		}
	}
	now := map[string]bool{}
	for _, p := range r.LicenseProblems {
		now[p] = true
		if !w.problems[p] {
			ev(TypeLicenseInvalid, Warning, "", "A license file failed verification and is ignored", p)
		}
	}
	w.problems = now
}
