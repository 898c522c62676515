package metrics

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/internal/testenv"
	"github.com/hafw/hafw/notify"
)

type noAdmin struct{}

func (noAdmin) Authenticate(*http.Request) api.Caller { return api.Caller{} }

func open(t *testing.T) (*Metrics, string) {
	t.Helper()
	dir := t.TempDir()
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	m, err := Open(Options{
		Status: func(context.Context) (api.Status, error) {
			return api.Status{Running: true, Hostname: "mse2", Role: "secondary", Version: "1.0", Peers: []api.PeerStatus{{
				HealthMonitorIP: "10.0.0.2", VIP: "10.0.0.10", State: "FAILOVER_ACTIVE", OwnsVIP: true, Heartbeat: "Down", Epoch: 3,
				DataReplication: "Up", HeartbeatsReceived: 40, Rejected: map[string]uint64{"replayed": 2},
				HeartbeatPaths: []api.HeartbeatPath{{Name: "hm", Requests: 20, Replies: 15}},
				Replication:    &api.Replication{State: "Up", Percent: 100, Lag: 4},
			}}}, nil
		},
		Destinations: func() []notify.View { return []notify.View{{Name: "nms", Sent: 3, Dropped: 1}} },
		Licenses: func() ([]License, error) {
			return []License{{ID: "L1", Feature: "activation", Expires: now.Add(10 * 24 * time.Hour)}, {ID: "L2", Feature: "cas"}}, nil
		},
		TokenFile: filepath.Join(dir, "metrics.token"), Auth: noAdmin{}, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, dir
}

func scrape(t *testing.T, m *Metrics, auth string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", Path, nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, r)
	return w
}

// TestMetrics: the endpoint needs the token, and what it serves is
// promtool-clean and carries the HA state, the counters and the
// histogram.
func TestMetrics(t *testing.T) {
	m, dir := open(t)
	if fi, err := os.Stat(filepath.Join(dir, "metrics.token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	for _, auth := range []string{"", "Bearer wrong", "Basic YWRtaW46eA=="} {
		if w := scrape(t, m, auth); w.Code != http.StatusUnauthorized {
			t.Errorf("scrape with %q: %d, want 401", auth, w.Code)
		}
	}
	m.Count(notify.Event{Type: notify.TypeFailoverCompleted, Severity: notify.Critical, Peer: "10.0.0.2"})
	m.Count(notify.Event{Type: notify.TypeStateChange, Severity: notify.Warning, Peer: "10.0.0.2", NewState: "FAILOVER_ACTIVE"})
	m.ObserveRTT(netip.MustParseAddr("10.0.0.2"), "hm", 3*time.Millisecond)
	w := scrape(t, m, "Bearer "+m.MetricsToken())
	if w.Code != http.StatusOK {
		t.Fatalf("scrape with the token: %d %s", w.Code, w.Body)
	}
	body := w.Body.String()
	for _, want := range []string{
		`hafw_failovers_total{peer="10.0.0.2"} 1`,
		`hafw_ha_state{peer="10.0.0.2",state="FAILOVER_ACTIVE"} 1`,
		`hafw_ha_state{peer="10.0.0.2",state="SECONDARY_ACTIVE"} 0`,
		`hafw_vip_held{peer="10.0.0.2",vip="10.0.0.10"} 1`,
		`hafw_heartbeat_loss_ratio{path="hm",peer="10.0.0.2"} 0.25`,
		`hafw_heartbeat_rtt_seconds_bucket{path="hm",peer="10.0.0.2",le="0.005"} 1`,
		`hafw_replication_lag_entries{peer="10.0.0.2"} 4`,
		`hafw_license_remaining_seconds{feature="activation",license="L1"} 864000`,
		`hafw_notifications_dropped_total{destination="nms"} 1`,
		`hafw_heartbeats_rejected_total{reason="replayed"} 2`,
		"go_goroutines", "process_resident_memory_bytes",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, `license="L2"`) {
		t.Error("a license that never expires has days left")
	}
	testenv.RequireCommand(t, "promtool")
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = bytes.NewReader(w.Body.Bytes())
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
