package hmdtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
)

// getIn does one HTTP GET from inside ns: the connection is dialled on
// the namespace's thread, then used by an ordinary client.
func getIn(t testing.TB, ns *netnstest.NS, rawURL, bearer string) (int, string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	var conn net.Conn
	if err := ns.Do(func() error {
		var err error
		conn, err = net.DialTimeout("tcp", u.Host, 5*time.Second)
		return err
	}); err != nil {
		return 0, err.Error()
	}
	tr := &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) { return conn, nil },
		DialTLSContext: func(context.Context, string, string) (net.Conn, error) {
			return tls.Client(conn, &tls.Config{InsecureSkipVerify: true}), nil
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// promValue runs an instant query against the Prometheus in ns and
// returns the value of its single sample ("" when there is none).
func promValue(t testing.TB, ns *netnstest.NS, base, query string) string {
	t.Helper()
	code, body := getIn(t, ns, base+"/api/v1/query?"+url.Values{"query": {query}}.Encode(), "")
	if code != http.StatusOK {
		return ""
	}
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if json.Unmarshal([]byte(body), &r) != nil || len(r.Data.Result) != 1 {
		return ""
	}
	v, _ := r.Data.Result[0].Value[1].(string)
	return v
}

// TestPrometheusSeesFailover runs the real Prometheus server in its own
// namespace scraping both nodes' /metrics (over TLS, with each node's
// read-only bearer token) every second, pulls the pair through a
// failover, and finds it in Prometheus: hafw_failovers_total counts it
// and the state gauge moved from SECONDARY_ACTIVE to FAILOVER_ACTIVE. The
// endpoint refuses a scraper without the token, and what it serves is
// clean under promtool.
func TestPrometheusSeesFailover(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	testenv.RequireCommand(t, "prometheus", "promtool")
	l, p, s := newPair(t, "10.252.0", func(_ *lan, p, s *node) {
		p.withTracker()
		s.withTracker()
	})
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var jobs strings.Builder
	tokens := map[string]string{}
	for _, n := range []*node{p, s} {
		tok, err := n.api().MetricsToken(ctx)
		if err != nil {
			t.Fatalf("%s metrics token: %v", n.name, err)
		}
		tokens[n.name] = tok
		file := filepath.Join(dir, n.name+".token")
		if err := os.WriteFile(file, []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&jobs, `  - job_name: %s
    scheme: https
    tls_config: {insecure_skip_verify: true}
    authorization: {type: Bearer, credentials_file: %s}
    static_configs: [{targets: ["%s:%d"]}]
`, n.name, file, n.hip, api.Port)
	}
	// No token, no metrics; the raw output is promtool-clean.
	metricsURL := fmt.Sprintf("https://%s:%d/metrics", s.hip, api.Port)
	if code, _ := getIn(t, l.client, metricsURL, ""); code != http.StatusUnauthorized {
		t.Fatalf("scrape without a token: %d, want 401", code)
	}
	code, raw := getIn(t, l.client, metricsURL, tokens["mse2"])
	if code != http.StatusOK || !strings.Contains(raw, "hafw_ha_state") {
		t.Fatalf("scrape with the token: %d\n%s", code, raw)
	}
	check := exec.Command("promtool", "check", "metrics")
	check.Stdin = bytes.NewReader([]byte(raw))
	if out, err := check.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics on hmd's output: %v\n%s", err, out)
	}

	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, []byte("global: {scrape_interval: 1s, scrape_timeout: 900ms}\nscrape_configs:\n"+jobs.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ns := netnstest.New(t, "prom")
	l.br.Attach(ns, "eth0")
	ns.AddAddr("eth0", l.prefix(60))
	listen := l.addr(60).String() + ":9090"
	prom := ns.Start("prometheus", "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+listen)
	base := "http://" + listen
	netnstest.Eventually(t, 60*time.Second, "Prometheus to scrape both nodes", func() bool {
		select {
		case <-prom.Exited():
			t.Fatalf("prometheus exited: %v\n%s", prom.Err(), prom.Output())
		default:
		}
		return promValue(t, l.client, base, `sum(up{job=~"mse1|mse2"})`) == "2" &&
			promValue(t, l.client, base, `hafw_ha_state{job="mse2",state="SECONDARY_ACTIVE"}`) == "1"
	})

	// Commits through the VIP show in the commit latency histogram; the
	// replication lag series exist (0 on a healthy pair).
	waitTrue(t, 30*time.Second, "data replication Up on the primary", func() bool { return p.replication() == "Up" })
	w := newWriter(l, l.addr(10))
	for range 5 {
		if err := w.write(); err != nil {
			t.Fatalf("write through the VIP: %v", err)
		}
	}
	netnstest.Eventually(t, 30*time.Second, "the commits and the lag in Prometheus", func() bool {
		return promValue(t, l.client, base, `hafw_instance_commit_seconds_count{job="mse1"}`) == "5" &&
			promValue(t, l.client, base, `hafw_replication_lag_bytes{job="mse1"}`) == "0" &&
			promValue(t, l.client, base, `hafw_replication_lag_seconds{job="mse1"}`) == "0"
	})

	p.kill(l)
	s.waitState(0, "FAILOVER_ACTIVE", 15*time.Second)
	netnstest.Eventually(t, 30*time.Second, "the failover in Prometheus", func() bool {
		return promValue(t, l.client, base, `hafw_failovers_total{job="mse2"}`) == "1" &&
			promValue(t, l.client, base, `hafw_ha_state{job="mse2",state="FAILOVER_ACTIVE"}`) == "1" &&
			promValue(t, l.client, base, `hafw_ha_state{job="mse2",state="SECONDARY_ACTIVE"}`) == "0" &&
			promValue(t, l.client, base, `hafw_vip_held{job="mse2"}`) == "1"
	})
	// The state change is in the series' history, not only in its end.
	if v := promValue(t, l.client, base, `max_over_time(hafw_ha_state{job="mse2",state="SECONDARY_ACTIVE"}[10m])`); v != "1" {
		t.Errorf("Prometheus never saw mse2 in SECONDARY_ACTIVE: %q", v)
	}
	if v := promValue(t, l.client, base, `sum(hafw_heartbeat_rtt_seconds_count{job="mse2"})`); v == "" || v == "0" {
		t.Errorf("no heartbeat round trips in the histogram: %q", v)
	}
}
