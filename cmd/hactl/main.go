// Command hactl is the operator's HA tool on the appliance: it does what the
// seed's management station does (pair a secondary, switchover, failback,
// delete the secondary, status, events) through the local hmd's API, and
// changes the administrator password.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/events"
	"github.com/hafw/hafw/internal/cli"
	"github.com/hafw/hafw/internal/humantime"
)

// commands is the table of subcommands; one line per subcommand.
var commands = map[string]cli.EnvCommand[*api.Client]{
	"pair":       {Summary: "configure a secondary for this primary", Run: runPair},
	"set":        {Summary: "change the pair's failover/failback modes, wait, heartbeat interval or witness (both sides)", Run: runSet},
	"switchover": {Summary: "move service to the secondary", Run: peerOp("switchover")},
	"failback":   {Summary: "move service back to the primary", Run: peerOp("failback")},
	"unpair":     {Summary: "delete the secondary (the clean way to break a pair)", Run: peerOp("unpair")},
	"status":     {Summary: "current high availability status", Run: runStatus},
	"events":     {Summary: "the events log", Run: runEvents},
	"recover":    {Summary: "restore a recovering primary's pairing: on the secondary (--primary) or on that primary (--secondary)", Run: runRecover},
	"secondary":  {Summary: "on a primary: inspect a future secondary, install or delete its activation license (inspect|license|deactivate)", Run: runSecondary},
	"traps":      {Summary: "SNMP trap destinations (add|list|delete|test)", Run: runTraps},
	"metrics":    {Summary: "the read-only bearer token of /metrics (token)", Run: runMetrics},
	"syslog":     {Summary: "the remote syslog collector, RFC 5424 (set|show|off)", Run: runSyslog},
	"upgrade":    {Summary: "install a signed update bundle into the inactive boot slot (FILE), or show the slots (status)", Run: runUpgrade},
	"passwd":     {Summary: "change the administrator password (the current one is required; --stdin for scripts)", Run: runPasswd},
}

// usageError reports a command-line mistake (exit status 2).
func usageError(format string, a ...any) error { return cli.Usagef(format, a...) }

func main() { cli.Main(run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hactl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", api.DefaultSocket, "hmd's local API `socket`")
	tool := func() cli.Tool {
		return cli.Tool{Name: "hactl", Synopsis: "[--socket PATH] COMMAND [FLAGS]", Commands: cli.Bind(commands, api.NewUnixClient(*socket))}
	}
	fs.Usage = func() { tool().PrintUsage(stderr) }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	return tool().Run(ctx, fs.Args(), stdout, stderr)
}

func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("hactl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %q", fs.Args())
	}
	return nil
}

func runPair(ctx context.Context, c *api.Client, args []string, stdout, stderr io.Writer) error {
	fs := flags("pair", stderr)
	var req api.PairRequest
	var wait, interval time.Duration
	fs.StringVar(&req.SecondaryName, "secondary-name", "", "secondary device `name`")
	fs.StringVar(&req.SecondaryIP, "secondary-ip", "", "secondary health monitor `IP`")
	fs.StringVar(&req.SecondaryPassword, "secondary-password", os.Getenv("HAFW_SECONDARY_PASSWORD"), "secondary's appliance `password` (default $HAFW_SECONDARY_PASSWORD)")
	fs.StringVar(&req.FailoverType, "failover", api.Manual, "failover type: automatic or manual")
	fs.StringVar(&req.FailbackType, "failback", api.Manual, "failback type: automatic or manual")
	fs.DurationVar(&wait, "wait", api.DefaultFailoverWait, "long failover wait")
	fs.DurationVar(&interval, "interval", 0, "heartbeat interval (default a fifth of the wait)")
	fs.StringVar(&req.SecondaryFingerprint, "fingerprint", "", "pin the secondary's API certificate (SHA-256 hex, as `hactl status` on the secondary shows it)")
	fs.StringVar(&req.Witness, "witness", "", "witness health-monitor `IP` that must agree the primary is gone before the secondary takes over automatically")
	fs.StringVar(&req.WitnessPassword, "witness-password", os.Getenv("HAFW_WITNESS_PASSWORD"), "the witness's appliance `password` (default $HAFW_WITNESS_PASSWORD)")
	fs.StringVar(&req.WitnessFingerprint, "witness-fingerprint", "", "pin the witness's API certificate (SHA-256 hex)")
	tofu := fs.Bool("trust-on-first-use", false, "pin whatever certificates the secondary and the witness present now, unconfirmed")
	if err := parse(fs, args); err != nil {
		return err
	}
	if req.TrustOnFirstUse = *tofu; !*tofu {
		if err := confirmPins(ctx, c, req); err != nil {
			return err
		}
	}
	req.LongFailoverWait, req.HeartbeatInterval = api.Duration(wait), api.Duration(interval)
	res, err := c.Pair(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.Message)
	return nil
}

// confirmPins refuses a pairing whose peers' certificates the operator did
// not name, and says what each presents now: an impostor at the
// secondary's address must not be handed the secondary's password, the
// pairing secret and the witness password on trust.
func confirmPins(ctx context.Context, c *api.Client, req api.PairRequest) error {
	var missing []string
	if req.SecondaryFingerprint == "" && req.SecondaryIP != "" {
		missing = append(missing, presented(ctx, c, "the secondary", req.SecondaryIP, req.SecondaryPassword, "--fingerprint"))
	}
	if req.WitnessFingerprint == "" && req.Witness != "" {
		missing = append(missing, presented(ctx, c, "the witness", req.Witness, req.WitnessPassword, "--witness-fingerprint"))
	}
	return unconfirmed(missing...)
}

// presented says which certificate the appliance at ip presents now (hmd
// asks it with its password), and the flag that pins it, for an operator
// who named none.
func presented(ctx context.Context, c *api.Client, what, ip, password, flag string) string {
	info, err := c.InspectSecondary(ctx, api.SecondaryRequest{SecondaryIP: ip, SecondaryPassword: password})
	if err != nil {
		return fmt.Sprintf("%s %s: not reachable to show its certificate (%v); pass %s", what, ip, err, flag)
	}
	return fmt.Sprintf("%s %s presents %s: compare it with `hactl status` there and pass %s %s", what, ip, info.Fingerprint, flag, info.Fingerprint)
}

// unconfirmed refuses an operation whose peers' certificates were not
// named (nil when every one was).
func unconfirmed(missing ...string) error {
	if len(missing) == 0 {
		return nil
	}
	return cli.Failf("confirm the certificates to pin (or pass --trust-on-first-use):\n  %s", strings.Join(missing, "\n  "))
}

// forceHelp is what --force overrides, per command.
var forceHelp = map[string]string{
	"switchover": "switch even within the stabilization window after a failback, or to a secondary whose application failed recently",
	"failback":   "fail back within the 30-minute stabilization window after a failover (or, on a terminated primary with the secondary silent, take the service back)",
	"unpair":     "delete the pair here even if the peer cannot be told, or in a state that is not steady",
}

func peerOp(name string) func(context.Context, *api.Client, []string, io.Writer, io.Writer) error {
	return func(ctx context.Context, c *api.Client, args []string, stdout, stderr io.Writer) error {
		fs := flags(name, stderr)
		var req api.PeerRequest
		fs.StringVar(&req.Peer, "peer", "", "the peer's health monitor `IP` (needed with two peers)")
		fs.BoolVar(&req.Force, "force", false, forceHelp[name])
		if err := parse(fs, args); err != nil {
			return err
		}
		do := map[string]func(context.Context, api.PeerRequest) (api.Result, error){
			"switchover": c.Switchover, "failback": c.Failback, "unpair": c.Unpair,
		}[name]
		res, err := do(ctx, req)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, res.Message)
		return nil
	}
}

func runStatus(ctx context.Context, c *api.Client, args []string, stdout, stderr io.Writer) error {
	fs := flags("status", stderr)
	asJSON := fs.Bool("json", false, "print the API's JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(stdout, "%s (%s): %s\n", st.Hostname, st.Role, st.State)
	if st.CertFingerprint != "" {
		fmt.Fprintf(stdout, "Certificate (SHA-256): %s\n", st.CertFingerprint)
	}
	for _, p := range st.Peers {
		fmt.Fprintf(stdout, "\nPeer %s (%s)\n", p.Name, p.HealthMonitorIP)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "Status\t%s\n", p.StatusText)
		fmt.Fprintf(tw, "Heartbeats\t%s\n", p.Heartbeat)
		fmt.Fprintf(tw, "Data Replication\t%s\n", p.DataReplication)
		if p.Syncing {
			done := p.SyncPercent / 5
			fmt.Fprintf(tw, "Synchronization\t[%s%s] %s\n", strings.Repeat("#", done), strings.Repeat("-", 20-done), p.SyncText())
		}
		if r := p.Replication; r != nil {
			fmt.Fprintf(tw, "Replication detail\t%s, %d%%, acknowledged %d of %d (lag %d), resent %d, stalls %d %s\n", r.Mode, r.Percent, r.AckedSeq, r.LastSeq, r.Lag, r.Resent, r.Stalls, r.Reason)
		}
		fmt.Fprintf(tw, "Mean Heartbeat Response Time\t%.1f millisec\n", p.MeanHeartbeatMS)
		fmt.Fprintf(tw, "Current state\t%s\n", p.State)
		fmt.Fprintf(tw, "Peer's state\t%s\n", peerState(p))
		switch {
		case p.Heartbeat != "Up":
			fmt.Fprintf(tw, "Peer holds virtual IP\tunknown (heartbeats down)\n")
		default:
			fmt.Fprintf(tw, "Peer holds virtual IP\t%v\n", p.PeerHoldsVIP)
		}
		fmt.Fprintf(tw, "Holds virtual IP\t%v (epoch %d)\n", p.OwnsVIP, p.Epoch)
		fmt.Fprintf(tw, "Failover type\t%s\n", p.FailoverType)
		fmt.Fprintf(tw, "Failback type\t%s\n", p.FailbackType)
		fmt.Fprintf(tw, "Long failover wait\t%s\n", humantime.Duration(p.FailoverWait()))
		fmt.Fprintf(tw, "Heartbeat interval\t%s\n", humantime.Duration(time.Duration(p.HeartbeatIntervalMS)*time.Millisecond))
		fmt.Fprintf(tw, "Witness\t%s\n", cmp.Or(p.Witness, "none"))
		fmt.Fprintf(tw, "Heartbeats received\t%d\n", p.HeartbeatsReceived)
		fmt.Fprintf(tw, "Heartbeats rejected\t%s\n", rejects(p.Rejected))
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, w := range p.Warnings {
			fmt.Fprintf(stdout, "Warning: %s\n", w)
		}
	}
	return nil
}

// peerState is the peer's state as this node last heard it; with the
// heartbeats down it is only the last known one.
func peerState(p api.PeerStatus) string {
	switch {
	case p.PeerState == "":
		return "unknown (not heard yet)"
	case p.Heartbeat != "Up":
		return p.PeerState + " (last known: heartbeats are down)"
	}
	return p.PeerState
}

func rejects(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func runEvents(ctx context.Context, c *api.Client, args []string, stdout, stderr io.Writer) error {
	fs := flags("events", stderr)
	peer := fs.String("peer", "", "only this peer's events (health monitor `IP`)")
	limit := fs.Int("limit", 50, "at most `N` events, newest first (0: all)")
	if err := parse(fs, args); err != nil {
		return err
	}
	evs, err := c.Events(ctx, *peer, *limit)
	if err != nil {
		return err
	}
	return printEvents(stdout, evs)
}

// printEvents prints the seed's "Events Log" columns.
func printEvents(w io.Writer, evs []events.Event) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Event Description\tGenerated By\tTimestamp\tRemarks")
	for _, e := range evs {
		remarks := e.Remarks
		if remarks == "" {
			remarks = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Description, e.GeneratedBy, humantime.Time(e.Time), remarks)
	}
	return tw.Flush()
}
