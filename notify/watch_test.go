package notify

import (
	"slices"
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
