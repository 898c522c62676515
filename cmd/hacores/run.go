package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/cores"
	"github.com/hafw/hafw/cores/plan"
	"github.com/hafw/hafw/notify"
)

// runCore runs this appliance as one core until SIGTERM (a normal
// shutdown: announced, drained, lease released). With --embedded it
// first starts a single-member etcd serving --endpoints — the
// single-machine setup; with several appliances, point --endpoints at an
// external etcd cluster instead.
func runCore(ctx context.Context, g global, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	num := fs.Int("num", 0, "core number (required; the seed's core N)")
	name := fs.String("name", "", "core name (default coreN)")
	role := fs.String("role", string(plan.RoleDevice), "device, user-interaction or local-device")
	ttl := fs.Duration("ttl", 10*time.Second, "lease TTL: how soon a crash is detected")
	workers := fs.Int("workers", 4, "tasks run at once")
	embedded := fs.Bool("embedded", false, "start a single-member embedded etcd")
	dir := fs.String("etcd-dir", filepath.Join(config.Layout{Root: config.DefaultRoot}.HMDDir(), "cores-etcd"), "embedded etcd data directory")
	peer := fs.String("etcd-peer", "http://127.0.0.1:2380", "embedded etcd peer URL")
	serverCert := fs.String("etcd-cert", "", "embedded etcd: server certificate (clients then need --cert/--key signed by --cacert)")
	serverKey := fs.String("etcd-key", "", "embedded etcd: server key")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics over TLS on `address` (e.g. :9464), bearer token required")
	metricsDir := fs.String("metrics-dir", filepath.Join(config.Layout{Root: config.DefaultRoot}.HMDDir(), "cores-metrics"), "where the metrics endpoint keeps its certificate and token")
	notifyFile := fs.String("notify", "", "notification settings `file` (hmd's notify.json form: trap destinations, rules, syslog): send this core's events")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	r, err := plan.ParseRole(*role)
	if err != nil {
		return usageError("%v", err)
	}
	if *num < 1 {
		return usageError("--num N is required (N ≥ 1)")
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if *embedded {
		client := strings.Split(g.endpoints, ",")[0]
		clientCA := ""
		if *serverCert != "" {
			clientCA = g.cacert // the CA that signs the clients' certificates
		}
		e, err := cores.StartEtcd(ctx, cores.EtcdMember{Name: fmt.Sprintf("core%d", *num), Dir: *dir, Client: client, Peer: *peer,
			ServerCert: *serverCert, ServerKey: *serverKey, ClientCA: clientCA})
		if err != nil {
			return err
		}
		defer e.Close()
		log.Info("embedded etcd serving", "client", client, "dir", *dir)
	}
	cli, st, err := g.connect()
	if err != nil {
		return err
	}
	defer cli.Close()
	coreName := *name
	if coreName == "" {
		coreName = fmt.Sprintf("core%d", *num)
	}
	if *metricsAddr != "" {
		stop, err := serveMetrics(*metricsAddr, *metricsDir, coreName, st, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *notifyFile != "" {
		svc, err := notify.Open(notify.Options{Path: *notifyFile, Node: coreName, Log: log})
		if err != nil {
			return err
		}
		defer svc.Close()
		wctx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		go watchEvents(wctx, st, svc, *num, coreName, log)
	}
	return cores.Run(ctx, cli, cores.Config{Num: *num, Name: *name, Role: r, Prefix: g.prefix, TTL: *ttl,
		Workers: *workers, Runner: cores.ExecRunner{}, Log: log})
}
