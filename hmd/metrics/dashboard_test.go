package metrics

import (
	"encoding/json"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/notify"
)

// TestDashboardQueriesExist: every hafw_ series the shipped Grafana
// dashboard queries is one this package serves (a renamed metric would
// otherwise leave an empty panel in every operator's Grafana).
func TestDashboardQueriesExist(t *testing.T) {
	data, err := os.ReadFile("../../dist/grafana/hafw-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	// Every vector gets a sample, so that every family is gathered.
	m, _ := open(t)
	m.ObserveRTT(netip.MustParseAddr("10.0.0.2"), "hm", time.Millisecond)
	m.ObserveCommit(time.Millisecond)
	for _, typ := range []notify.Type{notify.TypeFailoverCompleted, notify.TypeFailbackCompleted, notify.TypeSplitBrainDetected, notify.TypeStateChange} {
		m.Count(notify.Event{Type: typ, Peer: "10.0.0.2", NewState: "FAILOVER_ACTIVE"})
	}
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, f := range families {
		served[f.GetName()] = true
	}
	name := regexp.MustCompile(`\bhafw_[a-z_]+`)
	queried := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				queried++
				base := n
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					if b, ok := strings.CutSuffix(n, suffix); ok && served[b] {
						base = b
					}
				}
				if !served[base] {
					t.Errorf("panel %q queries %s, which hmd does not serve", p.Title, n)
				}
			}
		}
	}
	if queried < 10 {
		t.Errorf("only %d hafw_ series in the dashboard's queries", queried)
	}
}
