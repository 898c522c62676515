package notify

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWatcher(t *testing.T) {
	w := &Watcher{Node: "mse1"}
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	paths := func(hm, dc bool) map[string]bool { return map[string]bool{"hm": hm, "dc": dc} }
	lic := LicenseReading{ID: "L1", Feature: "activation", Expires: t0.Add(40 * 24 * time.Hour)}
	steps := []struct {
		name string
		r    Reading
		want []Type
	}{
		{"baseline", Reading{Peers: []PeerReading{{Peer: "p", Replication: "Setting up", Paths: paths(true, true)}}, Licenses: []LicenseReading{lic}}, nil},
		{"replication up", Reading{Peers: []PeerReading{{Peer: "p", Replication: "Up", Paths: paths(true, true)}}, Licenses: []LicenseReading{lic}}, []Type{TypeReplicationUp}},
		{"steady", Reading{Peers: []PeerReading{{Peer: "p", Replication: "Up", Paths: paths(true, true)}}, Licenses: []LicenseReading{lic}}, nil},
		{"dc path down", Reading{Peers: []PeerReading{{Peer: "p", Replication: "Up", Paths: paths(true, false)}}}, []Type{TypeHeartbeatDown}},
		{"every path down is the state machine's", Reading{Peers: []PeerReading{{Peer: "p", Replication: "Down", Paths: paths(false, false)}}}, []Type{TypeReplicationDown}},
		{"back from every path down", Reading{Peers: []PeerReading{{Peer: "p", Replication: "Down", Paths: paths(true, false)}}}, nil},
		{"dc path up", Reading{Peers: []PeerReading{{Peer: "p", Replication: "Down", Paths: paths(true, true)}}}, []Type{TypeHeartbeatUp}},
		{"standby: ships nothing", Reading{Peers: []PeerReading{{Peer: "p", Paths: paths(true, true)}}}, nil},
		{"shipping again starts a baseline", Reading{Peers: []PeerReading{{Peer: "p", Replication: "Up", Paths: paths(true, true)}}}, nil},
		{"license expiring", Reading{Time: t0.Add(11 * 24 * time.Hour), Licenses: []LicenseReading{lic}}, []Type{TypeLicenseExpiring}},
		{"said once", Reading{Time: t0.Add(12 * 24 * time.Hour), Licenses: []LicenseReading{lic}}, nil},
		{"license expired", Reading{Time: t0.Add(41 * 24 * time.Hour), Licenses: []LicenseReading{lic}, LicenseProblems: []string{"x.lic: bad signature"}}, []Type{TypeLicenseExpired, TypeLicenseInvalid}},
		{"problems said once", Reading{Time: t0.Add(42 * 24 * time.Hour), Licenses: []LicenseReading{lic}, LicenseProblems: []string{"x.lic: bad signature"}}, nil},
		{"a permanent license never expires", Reading{Time: t0.Add(400 * 24 * time.Hour), Licenses: []LicenseReading{{ID: "L2", Feature: "activation"}}}, nil},
	}
	for _, s := range steps {
		if s.r.Time.IsZero() {
			s.r.Time = t0
		}
		evs := w.Observe(s.r)
		var got []Type
		for _, e := range evs {
			got = append(got, e.Type)
			if e.Node != "mse1" || e.Text == "" {
				t.Errorf("%s: incomplete event %+v", s.name, e)
			}
		}
		if !slices.Equal(got, s.want) {
			t.Errorf("%s: %v, want %v", s.name, got, s.want)
		}
	}
}

// TestWatcherReportsTroubleAtStart: a box restarted with an expired license
// says so at once; replication and paths only set their baseline.
func TestWatcherReportsTroubleAtStart(t *testing.T) {
	w := &Watcher{Node: "mse1"}
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	evs := w.Observe(Reading{Time: now,
		Peers:    []PeerReading{{Peer: "p", Replication: "Down", Paths: map[string]bool{"hm": true, "dc": false}}},
		Licenses: []LicenseReading{{ID: "L1", Feature: "activation", Expires: now.Add(-time.Hour)}}})
	if len(evs) != 1 || evs[0].Type != TypeLicenseExpired || evs[0].Severity != Critical {
		t.Fatalf("events at start: %+v", evs)
	}
}

// TestWatcherTellsUpgrades: a slot on trial that becomes the active one is
// a commit; a failed slot is a rollback, told once across restarts of hmd
// (ReportedRollback carries over) and again for a later failed install of
// the same version.
func TestWatcherTellsUpgrades(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	slots := func(s ...SlotReading) Reading { return Reading{Time: t0, Firmware: s} }
	a1 := SlotReading{Name: "A", Version: "1.0", State: "good", Seq: 1, Active: true}
	b2trial := SlotReading{Name: "B", Version: "2.0", State: "pending", Seq: 2, Trial: true}
	b2 := SlotReading{Name: "B", Version: "2.0", State: "good", Seq: 2, Active: true}
	a1good := a1
	a1good.Active = false
	a3failed := SlotReading{Name: "A", Version: "3.0", State: "failed", Seq: 3, Failure: "no healthy boot in 3 tries"}
	a3again := a3failed
	a3again.Seq = 5
	w := &Watcher{Node: "mse1"}
	restarted := func() { w = &Watcher{Node: "mse1", ReportedRollback: w.ReportedRollback} }
	steps := []struct {
		name string
		do   func()
		r    Reading
		want []Type
	}{
		{"unknown slots", nil, Reading{Time: t0}, nil},
		{"on trial", nil, slots(a1, b2trial), nil},
		{"committed", nil, slots(a1good, b2), []Type{TypeUpgradeCommitted}},
		{"said once", nil, slots(a1good, b2), nil},
		{"an active slot hmd never saw on trial is no commit", restarted, slots(a1good, b2), nil},
		{"rolled back", nil, slots(a3failed, b2), []Type{TypeUpgradeRolledBack}},
		{"said once", nil, slots(a3failed, b2), nil},
		{"not again after a restart", restarted, slots(a3failed, b2), nil},
		{"the same version failing again is told", nil, slots(a3again, b2), []Type{TypeUpgradeRolledBack}},
	}
	for _, s := range steps {
		if s.do != nil {
			s.do()
		}
		var got []Type
		for _, e := range w.Observe(s.r) {
			got = append(got, e.Type)
			if e.Type == TypeUpgradeRolledBack && !strings.Contains(e.Text, "3.0 failed and was rolled back: no healthy boot in 3 tries") {
				t.Errorf("%s: text %q", s.name, e.Text)
			}
		}
		if !slices.Equal(got, s.want) {
			t.Errorf("%s: events %v, want %v", s.name, got, s.want)
		}
	}
	if w.ReportedRollback != "A/5/3.0" {
		t.Errorf("ReportedRollback %q", w.ReportedRollback)
	}
}
