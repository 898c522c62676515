// Package metrics is hmd's Prometheus endpoint: /metrics on the
// management API's TLS listener, for operators who watch their appliances
// from Prometheus and Grafana.
//
// Gauges are read from hmd's status when Prometheus scrapes (one call
// through the event loop per scrape, as `hactl status` does); counters of
// failovers, failbacks and split brains count the notify events as they
// are published; heartbeat round trips go into a histogram as the
// heartbeat receiver measures them. Nothing here runs on, or waits for,
// the HA loop between scrapes.
//
// The endpoint is not open: a scraper presents a read-only bearer token
// (Token, kept 0600 in hmd's state directory; `hactl metrics token` prints
// it), or the appliance's admin password.
package metrics

import (
	"context"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/internal/bearer"
	"github.com/hafw/hafw/notify"
)

// Path is where the endpoint is served.
const Path = "/metrics"

// License is one installed license as the license-days gauge shows it.
type License struct {
	ID, Feature string
	// Expires is zero for a license that never expires.
	Expires time.Time
}

// Options are what the metrics read.
type Options struct {
	// Status is hmd's status (the daemon's api.Backend.Status).
	Status func(ctx context.Context) (api.Status, error)
	// Destinations are the trap destinations with their counters (nil:
	// none).
	Destinations func() []notify.View
	// Licenses lists the installed, verified licenses (nil: none).
	Licenses func() ([]License, error)
	// TokenFile holds the scrapers' bearer token; Open creates it.
	TokenFile string
	// Auth also admits the appliance's admin (basic authentication).
	Auth api.Authenticator
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Metrics is the registry and its endpoint.
type Metrics struct {
	opt   Options
	token string
	reg   *prometheus.Registry

	rtt                             *prometheus.HistogramVec
	commits                         prometheus.Histogram
	failovers, failbacks, splits    *prometheus.CounterVec
	stateChanges, notificationsSeen *prometheus.CounterVec

	// lossMu guards the previous scrape's path counters, from which the
	// loss gauge is computed.
	lossMu   sync.Mutex
	lastPath map[[2]string][2]uint64
}

// Open loads or creates the token and registers every metric.
func Open(opt Options) (*Metrics, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	token, err := bearer.LoadOrCreate(opt.TokenFile)
	if err != nil {
		return nil, err
	}
	m := &Metrics{opt: opt, token: token, reg: prometheus.NewRegistry(), lastPath: map[[2]string][2]uint64{}}
	m.rtt = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hafw_heartbeat_rtt_seconds", Help: "Round-trip time of heartbeats, per peer and path.",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1},
	}, []string{"peer", "path"})
	m.commits = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "hafw_instance_commit_seconds", Help: "Latency of the instance database's commits as the application sees them (local fsyncs and, in the synchronous protection modes, the standby's acknowledgement).",
		Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5},
	})
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m.failovers = counter("hafw_failovers_total", "Failovers completed on this appliance (FAILOVER_ACTIVE reached), per peer.", "peer")
	m.failbacks = counter("hafw_failbacks_total", "Failbacks completed, per peer.", "peer")
	m.splits = counter("hafw_split_brains_total", "Split brains detected (both sides held the virtual IP), per peer.", "peer")
	m.stateChanges = counter("hafw_state_changes_total", "HA state changes, per peer and state entered.", "peer", "state")
	m.notificationsSeen = counter("hafw_events_total", "Operator events published (the notifications' source), per type and severity.", "type", "severity")
	m.reg.MustRegister(m.rtt, m.commits, m.failovers, m.failbacks, m.splits, m.stateChanges, m.notificationsSeen,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		statusCollector{m})
	return m, nil
}

// MetricsToken is the scrapers' bearer token (GET /v1/metrics/token,
// admin only).
func (m *Metrics) MetricsToken() string { return m.token }

// ObserveRTT records one heartbeat round trip (daemon.Options.HeartbeatRTT).
func (m *Metrics) ObserveRTT(peer netip.Addr, path string, rtt time.Duration) {
	m.rtt.WithLabelValues(peer.String(), path).Observe(rtt.Seconds())
}

// ObserveCommit records one instance commit's latency
// (instance.Options.OnCommit).
func (m *Metrics) ObserveCommit(d time.Duration) { m.commits.Observe(d.Seconds()) }

// Count is a notify.Service subscriber: it counts the events.
func (m *Metrics) Count(e notify.Event) {
	m.notificationsSeen.WithLabelValues(string(e.Type), e.Severity.String()).Inc()
	switch e.Type {
	case notify.TypeFailoverCompleted:
		m.failovers.WithLabelValues(e.Peer).Inc()
	case notify.TypeFailbackCompleted:
		m.failbacks.WithLabelValues(e.Peer).Inc()
	case notify.TypeSplitBrainDetected:
		m.splits.WithLabelValues(e.Peer).Inc()
	case notify.TypeStateChange:
		m.stateChanges.WithLabelValues(e.Peer, e.NewState).Inc()
	}
}

// Handler serves the registry to an authenticated scraper.
func (m *Metrics) Handler() http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{MaxRequestsInFlight: 2, Timeout: 10 * time.Second})
	var admin func(*http.Request) bool
	if m.opt.Auth != nil {
		admin = func(r *http.Request) bool { return m.opt.Auth.Authenticate(r).Admin }
	}
	return bearer.Guard(m.token, admin, "metrics need the read-only bearer token (hactl metrics token) or the appliance password", h)
}

// statusCollector reads the gauges from hmd's status at scrape time.
type statusCollector struct{ m *Metrics }

var (
	descInfo = prometheus.NewDesc("hafw_info", "This appliance: host name, HA role and firmware version (always 1).",
		[]string{"hostname", "role", "version"}, nil)
	descState = prometheus.NewDesc("hafw_ha_state", "HA state of the relationship with each peer: 1 for the current state, 0 for the others.",
		[]string{"peer", "state"}, nil)
	descVIP       = prometheus.NewDesc("hafw_vip_held", "Whether this appliance holds the pair's virtual IP (1) or not (0).", []string{"peer", "vip"}, nil)
	descEpoch     = prometheus.NewDesc("hafw_failover_epoch", "The pair's failover epoch (grows with every claim of the virtual IP).", []string{"peer"}, nil)
	descHBUp      = prometheus.NewDesc("hafw_heartbeat_up", "Whether the peer's heartbeats arrive (1) or not (0).", []string{"peer"}, nil)
	descPathUp    = prometheus.NewDesc("hafw_heartbeat_path_up", "Whether the peer is heard on the path (1) or not (0).", []string{"peer", "path"}, nil)
	descRequests  = prometheus.NewDesc("hafw_heartbeat_requests_total", "Heartbeats sent on the path that ask for a reply.", []string{"peer", "path"}, nil)
	descReplies   = prometheus.NewDesc("hafw_heartbeat_replies_total", "Timely heartbeat replies heard on the path.", []string{"peer", "path"}, nil)
	descLoss      = prometheus.NewDesc("hafw_heartbeat_loss_ratio", "Share of heartbeat requests on the path left without a timely reply since the previous scrape.", []string{"peer", "path"}, nil)
	descReceived  = prometheus.NewDesc("hafw_heartbeats_received_total", "Authentic heartbeats accepted from the peer.", []string{"peer"}, nil)
	descRejected  = prometheus.NewDesc("hafw_heartbeats_rejected_total", "Heartbeats refused, by reason (forged, replayed, …).", []string{"reason"}, nil)
	descRepState  = prometheus.NewDesc("hafw_replication_state", "Data replication state towards the peer: 1 for the current one (Up, Setting up, Down).", []string{"peer", "state"}, nil)
	descSync      = prometheus.NewDesc("hafw_replication_sync_ratio", "Progress of the running data sync, 0 to 1 (1 when up).", []string{"peer"}, nil)
	descLag       = prometheus.NewDesc("hafw_replication_lag_entries", "Entries committed here that the standby has not acknowledged.", []string{"peer"}, nil)
	descLagBytes  = prometheus.NewDesc("hafw_replication_lag_bytes", "Size of the entries the standby has not acknowledged.", []string{"peer"}, nil)
	descLagAge    = prometheus.NewDesc("hafw_replication_lag_seconds", "Age of the oldest entry the standby has not acknowledged (0 when it has all).", []string{"peer"}, nil)
	descResent    = prometheus.NewDesc("hafw_replication_resent_entries_total", "Entries the standby refused and that were sent again.", []string{"peer"}, nil)
	descStalls    = prometheus.NewDesc("hafw_replication_stalls_total", "Syncs that stopped progressing and were restarted.", []string{"peer"}, nil)
	descLicense   = prometheus.NewDesc("hafw_license_remaining_seconds", "Time left until the license expires (days left times 86400, as Prometheus counts in seconds); licenses that never expire are not listed.", []string{"license", "feature"}, nil)
	descTrapSent  = prometheus.NewDesc("hafw_notifications_sent_total", "Notifications delivered to the trap destination.", []string{"destination"}, nil)
	descTrapFail  = prometheus.NewDesc("hafw_notifications_failed_total", "Notifications the trap destination did not take.", []string{"destination"}, nil)
	descTrapDrop  = prometheus.NewDesc("hafw_notifications_dropped_total", "Notifications dropped because the destination's queue was full.", []string{"destination"}, nil)
	descTrapQueue = prometheus.NewDesc("hafw_notifications_queued", "Notifications waiting for the trap destination.", []string{"destination"}, nil)
	descScrapeErr = prometheus.NewDesc("hafw_status_up", "Whether hmd's status could be read for this scrape (1) or not (0).", nil, nil)
)

// Describe implements prometheus.Collector.
func (c statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInfo, descState, descVIP, descEpoch, descHBUp, descPathUp, descRequests, descReplies,
		descLoss, descReceived, descRejected, descRepState, descSync, descLag, descLagBytes, descLagAge, descResent, descStalls, descLicense,
		descTrapSent, descTrapFail, descTrapDrop, descTrapQueue, descScrapeErr} {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Collect implements prometheus.Collector.
func (c statusCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	count := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := m.opt.Status(ctx)
	gauge(descScrapeErr, b2f(err == nil))
	if err == nil {
		gauge(descInfo, 1, st.Hostname, st.Role, st.Version)
		rejected := map[string]uint64{}
		for _, p := range st.Peers {
			peer := p.HealthMonitorIP
			for _, s := range ha.States() {
				gauge(descState, b2f(string(s) == p.State), peer, string(s))
			}
			gauge(descVIP, b2f(p.OwnsVIP), peer, p.VIP)
			gauge(descEpoch, float64(p.Epoch), peer)
			gauge(descHBUp, b2f(p.Heartbeat == "Up"), peer)
			count(descReceived, p.HeartbeatsReceived, peer)
			for _, hp := range p.HeartbeatPaths {
				gauge(descPathUp, b2f(hp.Up), peer, hp.Name)
				count(descRequests, hp.Requests, peer, hp.Name)
				count(descReplies, hp.Replies, peer, hp.Name)
				gauge(descLoss, m.loss(peer, hp), peer, hp.Name)
			}
			for reason, n := range p.Rejected {
				rejected[reason] = n // the monitor's counts, the same for every peer
			}
			for _, s := range []string{"Up", "Setting up", "Down"} {
				gauge(descRepState, b2f(s == p.DataReplication), peer, s)
			}
			if r := p.Replication; r != nil {
				gauge(descSync, float64(r.Percent)/100, peer)
				gauge(descLag, float64(r.Lag), peer)
				gauge(descLagBytes, float64(r.LagBytes), peer)
				gauge(descLagAge, r.LagSeconds, peer)
				count(descResent, r.Resent, peer)
				count(descStalls, r.Stalls, peer)
			}
		}
		for reason, n := range rejected {
			count(descRejected, n, reason)
		}
	}
	if m.opt.Licenses != nil {
		if ls, err := m.opt.Licenses(); err == nil {
			now := m.opt.Now()
			for _, l := range ls {
				if !l.Expires.IsZero() {
					gauge(descLicense, l.Expires.Sub(now).Seconds(), l.ID, l.Feature)
				}
			}
		}
	}
	if m.opt.Destinations != nil {
		for _, d := range m.opt.Destinations() {
			count(descTrapSent, d.Sent, d.Name)
			count(descTrapFail, d.Failed, d.Name)
			count(descTrapDrop, d.Dropped, d.Name)
			gauge(descTrapQueue, float64(d.Queued), d.Name)
		}
	}
}

// loss is the path's share of unanswered requests since the last scrape.
func (m *Metrics) loss(peer string, hp api.HeartbeatPath) float64 {
	m.lossMu.Lock()
	defer m.lossMu.Unlock()
	key := [2]string{peer, hp.Name}
	prev := m.lastPath[key]
	m.lastPath[key] = [2]uint64{hp.Requests, hp.Replies}
	req, rep := hp.Requests-prev[0], hp.Replies-prev[1]
	if hp.Requests < prev[0] || hp.Replies < prev[1] || req == 0 {
		return 0 // restarted monitor, or nothing sent
	}
	return max(0, 1-float64(rep)/float64(req))
}
