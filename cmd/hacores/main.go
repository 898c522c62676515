// Command hacores operates horizontal core failover (hmd/cores): it runs a
// core, lists cores and tasks, re-runs failed tasks, pauses non-critical
// ones, reassigns partitions and sets the cluster-wide options. Each
// subcommand lives in its own file and only parses flags, calls hmd/cores
// and formats the answer.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/hafw/hafw/hmd/cores"
)

// global are the flags every subcommand accepts before its name.
type global struct {
	endpoints string
	prefix    string
	// TLS client authentication for an external cluster (etcd's
	// --client-cert-auth); the embedded member listens on loopback only.
	cacert, cert, key string
}

type command struct {
	summary string
	run     func(ctx context.Context, g global, args []string, stdout, stderr io.Writer) error
}

// commands is the table of subcommands; one line per subcommand.
var commands = map[string]command{
	"run":       {"run this appliance as core N (optionally with an embedded single-member etcd)", runCore},
	"cores":     {"list the cores and their state", runCores},
	"tasks":     {"search tasks by status, failure type, core and time range", runTasks},
	"add":       {"add a task", runAdd},
	"rerun":     {"re-run failed tasks (by ID or by search)", runRerun},
	"pause":     {"pause the non-critical tasks scheduled in the next N hours", runPause},
	"resume":    {"resume paused tasks", runResume},
	"partition": {"reassign a partition (and its tasks) to a core", runPartition},
	"options":   {"show or set enable_auto_failover, topology, maintenance window, override lists", runOptions},
	"events":    {"show the failover events", runEvents},
}

// defaultEndpoint is where `hacores run --embedded` serves clients.
const defaultEndpoint = "http://127.0.0.1:2379"

type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageError(format string, a ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, a...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

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
		printUsage(stderr)
		return 2
	}
	args = fs.Args()
	if len(args) == 0 || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "hacores: unknown command %q\n", args[0])
		printUsage(stderr)
		return 2
	}
	err := cmd.run(ctx, g, args[1:], stdout, stderr)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.code != 0 {
			fmt.Fprintf(stderr, "hacores %s: %s\n", args[0], ee.msg)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "hacores %s: %v\n", args[0], err)
	return 1
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: hacores [--endpoints URL,...] [--prefix P] COMMAND [flags]")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}

// connect opens a client to the cluster the global flags name.
func (g global) connect() (*clientv3.Client, *cores.Store, error) {
	cfg := clientv3.Config{Endpoints: strings.Split(g.endpoints, ","), DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
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

// parseFlags parses a subcommand's flags; -h prints its defaults.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &exitError{code: 0, msg: "help shown"}
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
