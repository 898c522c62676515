// Command hacores operates horizontal core failover (cores): it runs a
// core, lists cores and tasks, re-runs failed tasks, pauses non-critical
// ones, reassigns partitions and sets the cluster-wide options. Each
// subcommand lives in its own file and only parses flags, calls cores
// and formats the answer.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/hafw/hafw/cores"
	"github.com/hafw/hafw/internal/cli"
)

// global are the flags every subcommand accepts before its name.
type global struct {
	endpoints string
	prefix    string
	// TLS client authentication for an external cluster (etcd's
	// --client-cert-auth); the embedded member listens on loopback only.
	cacert, cert, key string
}

// commands is the table of subcommands; one line per subcommand.
var commands = map[string]cli.EnvCommand[global]{
	"run":       {Summary: "run this appliance as core N (optionally with an embedded single-member etcd)", Run: runCore},
	"cores":     {Summary: "list the cores and their state", Run: runCores},
	"tasks":     {Summary: "search tasks by status, failure type, core and time range", Run: runTasks},
	"add":       {Summary: "add a task", Run: runAdd},
	"rerun":     {Summary: "re-run failed tasks (by ID or by search)", Run: runRerun},
	"pause":     {Summary: "pause the non-critical tasks scheduled in the next N hours", Run: runPause},
	"resume":    {Summary: "resume paused tasks", Run: runResume},
	"partition": {Summary: "reassign a partition (and its tasks) to a core", Run: runPartition},
	"options":   {Summary: "show or set enable_auto_failover, topology, maintenance window, override lists", Run: runOptions},
	"events":    {Summary: "show the failover events", Run: runEvents},
}

// defaultEndpoint is where `hacores run --embedded` serves clients.
const defaultEndpoint = "http://127.0.0.1:2379"

// usageError reports a command-line mistake (exit status 2).
func usageError(format string, a ...any) error { return cli.Usagef(format, a...) }

func main() { cli.Main(run) }

const synopsis = "[--endpoints URL,...] [--prefix P] [--cacert F --cert F --key F] COMMAND [flags]"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hacores", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var g global
	fs.StringVar(&g.endpoints, "endpoints", defaultEndpoint, "comma-separated etcd client URLs")
	fs.StringVar(&g.prefix, "prefix", cores.DefaultPrefix, "etcd key prefix of this core cluster")
	fs.StringVar(&g.cacert, "cacert", "", "CA bundle that signed the etcd servers' certificates")
	fs.StringVar(&g.cert, "cert", "", "client certificate for etcd")
	fs.StringVar(&g.key, "key", "", "client key for etcd")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "hacores: %v\n", err)
		cli.Tool{Name: "hacores", Synopsis: synopsis, Commands: cli.Bind(commands, g)}.PrintUsage(stderr)
		return 2
	}
	return cli.Tool{Name: "hacores", Synopsis: synopsis, Commands: cli.Bind(commands, g)}.Run(ctx, fs.Args(), stdout, stderr)
}

// connect opens a client to the cluster the global flags name.
func (g global) connect() (*clientv3.Client, *cores.Store, error) {
	endpoints := strings.Split(g.endpoints, ",")
	if err := g.checkEndpoints(endpoints); err != nil {
		return nil, nil, err
	}
	cfg := clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	if g.cacert != "" || g.cert != "" || g.key != "" {
		tlsCfg, err := transport.TLSInfo{TrustedCAFile: g.cacert, CertFile: g.cert, KeyFile: g.key}.ClientConfig()
		if err != nil {
			return nil, nil, fmt.Errorf("etcd client TLS: %w", err)
		}
		cfg.TLS = tlsCfg
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to etcd %s: %w", g.endpoints, err)
	}
	return cli, cores.NewStore(cli, g.prefix), nil
}

// checkEndpoints refuses an etcd endpoint off this host unless it is
// https with a client certificate: task records are commands run as root on
// every core, so whoever can write etcd is root there, and a plain or
// unauthenticated connection across the network lets anyone on the path
// write them. Loopback endpoints (the embedded member) may be plain.
func (g global) checkEndpoints(endpoints []string) error {
	for _, e := range endpoints {
		u, err := url.Parse(e)
		if err != nil || u.Host == "" {
			return usageError("--endpoints: %q is not a URL like https://10.0.0.1:2379", e)
		}
		if isLoopback(u.Hostname()) {
			continue
		}
		if u.Scheme != "https" || g.cacert == "" || g.cert == "" || g.key == "" {
			return usageError("etcd endpoint %s is not on this host: it needs https with a client certificate (--cacert, --cert, --key), because whoever can write etcd runs commands as root on every core", e)
		}
	}
	return nil
}

// isLoopback reports whether host names this machine's loopback.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// parseFlags parses a subcommand's flags; -h prints its defaults.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError("%v", err)
	}
	return nil
}

// parseTime reads "now", a signed duration from now ("+4h", "-30m") or
// RFC 3339.
func parseTime(s string, now time.Time) (time.Time, error) {
	switch {
	case s == "":
		return time.Time{}, nil
	case s == "now":
		return now, nil
	case strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-"):
		d, err := time.ParseDuration(s)
		if err != nil {
			return time.Time{}, fmt.Errorf("time %q: %w", s, err)
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want now, +DURATION, -DURATION or RFC 3339: %w", s, err)
	}
	return t, nil
}
