package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hafw/hafw/cores"
	"github.com/hafw/hafw/cores/plan"
	"github.com/hafw/hafw/internal/bearer"
	"github.com/hafw/hafw/internal/tlsid"
)

// minRead is how often a scrape may read the cluster from etcd; scrapes in
// between are answered from the last read. Counting tasks by status reads
// every task record, which must not be paid once a second per scraper.
const minRead = 10 * time.Second

var (
	descEtcdUp       = prometheus.NewDesc("hafw_cores_etcd_up", "Whether the last read of the cluster state from etcd succeeded (1) or not (0); the other hafw_core* metrics are absent while it fails.", nil, nil)
	descCoreUp       = prometheus.NewDesc("hafw_core_up", "Whether the core holds a live lease (1: running) or not (0), per registered core.", []string{"core", "name", "role"}, nil)
	descFailedOver   = prometheus.NewDesc("hafw_core_failed_over", "Whether a stopped core's tasks and partitions have been taken over by the others (1) or not yet (0).", []string{"core"}, nil)
	descPartitions   = prometheus.NewDesc("hafw_core_partitions", "Partitions assigned to the core.", []string{"core"}, nil)
	descTasks        = prometheus.NewDesc("hafw_core_tasks", "Tasks per assigned core and status.", []string{"core", "status"}, nil)
	descAutoFailover = prometheus.NewDesc("hafw_cores_auto_failover_enabled", "The cluster option distributed/enable_auto_failover (1: enabled).", nil, nil)
	descEvents       = prometheus.NewDesc("hafw_cores_events_total", "Failover events recorded in the cluster's event log, per event text.", []string{"event"}, nil)
)

// clusterCollector reads the horizontal cluster's state from etcd at
// scrape time (at most once per minRead): every core reports the same
// cluster-wide figures, so scraping any one live core is enough.
type clusterCollector struct {
	st  *cores.Store
	now func() time.Time

	mu   sync.Mutex
	read time.Time
	view []prometheus.Metric
}

// Describe implements prometheus.Collector.
func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEtcdUp, descCoreUp, descFailedOver, descPartitions, descTasks, descAutoFailover, descEvents} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); c.view == nil || now.Sub(c.read) >= minRead {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.view, c.read = c.readCluster(ctx, now), now
		cancel()
	}
	for _, m := range c.view {
		ch <- m
	}
}

// readCluster is one read of the cluster as metrics.
func (c *clusterCollector) readCluster(ctx context.Context, now time.Time) []prometheus.Metric {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
		return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	sn, err := c.st.Snapshot(ctx)
	var ts []plan.Task
	if err == nil {
		ts, err = c.st.Tasks(ctx, plan.Filter{})
	}
	var evs []cores.Event
	if err == nil {
		evs, err = c.st.Events(ctx)
	}
	if err != nil {
		return []prometheus.Metric{gauge(descEtcdUp, 0)}
	}
	out := []prometheus.Metric{gauge(descEtcdUp, 1), gauge(descAutoFailover, boolValue(sn.Options.EnableAutoFailover))}
	tasks := map[int]map[plan.Status]int{}
	for _, t := range ts {
		if tasks[t.Core] == nil {
			tasks[t.Core] = map[plan.Status]int{}
		}
		tasks[t.Core][t.Status]++
	}
	for _, k := range sn.Cores {
		num := strconv.Itoa(k.Num)
		_, alive := sn.Alive[k.Num]
		out = append(out, gauge(descCoreUp, boolValue(alive), num, k.Name, string(k.Role)),
			gauge(descFailedOver, boolValue(!alive && sn.Handled[k.Num] == k.Lease), num),
			gauge(descPartitions, float64(len(partitionsOf(sn, k.Num))), num))
	}
	for core, byStatus := range tasks {
		for status, n := range byStatus {
			out = append(out, gauge(descTasks, float64(n), strconv.Itoa(core), string(status)))
		}
	}
	events := map[string]int{}
	for _, e := range evs {
		events[e.Text]++
	}
	for text, n := range events {
		out = append(out, prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, float64(n), text))
	}
	return out
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// serveMetrics serves /metrics over TLS on addr until ctx ends. The
// endpoint's certificate (pin it in the scraper) and its bearer token
// (0600) are kept in dir, created on first use; the log says where.
func serveMetrics(addr, dir, coreName string, st *cores.Store, log *slog.Logger) (func(), error) {
	id, err := tlsid.LoadOrCreate(dir, coreName)
	if err != nil {
		return nil, fmt.Errorf("metrics certificate: %w", err)
	}
	tokenFile := filepath.Join(dir, "metrics.token")
	token, err := bearer.LoadOrCreate(tokenFile)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&clusterCollector{st: st, now: time.Now},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", bearer.Guard(token, nil, "metrics need the bearer token in "+tokenFile,
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{MaxRequestsInFlight: 2, Timeout: 10 * time.Second})))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	srv := &http.Server{Handler: mux, TLSConfig: id.ServerTLS(), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, IdleTimeout: time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("metrics serving", "address", ln.Addr().String(), "fingerprint", id.Fingerprint, "token_file", tokenFile)
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}
