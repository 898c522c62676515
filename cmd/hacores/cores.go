package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hafw/hafw/cores"
	"github.com/hafw/hafw/cores/plan"
)

// runCores lists every registered core with its state, like the seed's
// Core List page, plus what the failover machinery thinks of it.
func runCores(ctx context.Context, g global, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cores", flag.ContinueOnError)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	cli, st, err := g.connect()
	if err != nil {
		return err
	}
	defer cli.Close()
	sn, err := st.Snapshot(ctx)
	if err != nil {
		return err
	}
	ts, err := st.Tasks(ctx, plan.Filter{})
	if err != nil {
		return err
	}
	load := unfinished(ts)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CORE\tNAME\tROLE\tSTATE\tTASKS\tPARTITIONS")
	for _, c := range sn.Cores {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", c.Num, c.Name, c.Role, coreState(c, sn, time.Now()), load[c.Num], strings.Join(partitionsOf(sn, c.Num), ","))
	}
	return tw.Flush()
}

// coreState names a core's state in the operator's words.
func coreState(c plan.Core, sn cores.Snapshot, now time.Time) string {
	if _, ok := sn.Alive[c.Num]; ok {
		return "running"
	}
	var sd *plan.Shutdown
	if s, ok := sn.Shutdowns[c.Num]; ok {
		sd = &s
	}
	switch act, until := plan.Decide(c, false, sd, sn.Handled[c.Num], sn.Options, now); {
	case sn.Handled[c.Num] == c.Lease:
		return "stopped, failed over"
	case act == plan.WaitWindow:
		return "stopped normally, failover in " + until.Sub(now).Round(time.Second).String()
	case act == plan.Nothing:
		return "stopped, auto failover disabled"
	default:
		return "stopped, failover pending"
	}
}

func partitionsOf(sn cores.Snapshot, num int) []string {
	var out []string
	for p, owner := range sn.Partitions {
		if owner == num {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func unfinished(ts []plan.Task) map[int]int {
	load := map[int]int{}
	for _, t := range ts {
		if !t.Status.Terminal() {
			load[t.Core]++
		}
	}
	return load
}

// runOptions prints the cluster-wide options, or changes the given ones.
// The change is one etcd write that every core watches — the seed's
// "reload server options", synchronised to all cores.
func runOptions(ctx context.Context, g global, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("options", flag.ContinueOnError)
	failover := fs.String("enable-auto-failover", "", "true or false")
	topology := fs.String("topology", "", "round-robin or core-binding")
	window := fs.Duration("maintenance-window", -1, "wait after a normal shutdown (default 30m)")
	var overrides []string
	fs.Func("override", "bind_to_core_override: N=A,B (repeatable; N= clears)", func(s string) error {
		overrides = append(overrides, s)
		return nil
	})
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	cli, st, err := g.connect()
	if err != nil {
		return err
	}
	defer cli.Close()
	sn, err := st.Snapshot(ctx)
	if err != nil {
		return err
	}
	o := sn.Options
	changed := false
	if *failover != "" {
		v, err := strconv.ParseBool(*failover)
		if err != nil {
			return usageError("--enable-auto-failover %q: want true or false", *failover)
		}
		o.EnableAutoFailover, changed = v, true
	}
	if *topology != "" {
		o.Topology, changed = plan.Topology(*topology), true
	}
	if *window >= 0 {
		o.MaintenanceWindow, changed = plan.Duration(*window), true
	}
	for _, ov := range overrides {
		n, list, ok := strings.Cut(ov, "=")
		num, err := strconv.Atoi(n)
		if !ok || err != nil {
			return usageError("--override %q: want N=A,B", ov)
		}
		if o.Overrides == nil {
			o.Overrides = map[int][]int{}
		}
		changed = true
		if list == "" {
			delete(o.Overrides, num)
			continue
		}
		targets, err := plan.ParseOverride(list)
		if err != nil {
			return usageError("--override %q: %v", ov, err)
		}
		o.Overrides[num] = targets
	}
	if changed {
		if err := o.Validate(); err != nil {
			return usageError("%v", err)
		}
		if err := st.SetOptions(ctx, o); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "distributed/enable_auto_failover = %t\n", o.EnableAutoFailover)
	fmt.Fprintf(stdout, "topology = %s\n", o.Topology)
	fmt.Fprintf(stdout, "maintenance_window = %s\n", time.Duration(o.MaintenanceWindow))
	nums := make([]int, 0, len(o.Overrides))
	for n := range o.Overrides {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	for _, n := range nums {
		s := make([]string, 0, len(o.Overrides[n]))
		for _, c := range o.Overrides[n] {
			s = append(s, strconv.Itoa(c))
		}
		fmt.Fprintf(stdout, "distributed/bind_to_core_override_%d = %s\n", n, strings.Join(s, ","))
	}
	return nil
}

// runEvents prints the event log, oldest first.
func runEvents(ctx context.Context, g global, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	cli, st, err := g.connect()
	if err != nil {
		return err
	}
	defer cli.Close()
	evs, err := st.Events(ctx)
	if err != nil {
		return err
	}
	for _, ev := range evs {
		fmt.Fprintf(stdout, "%s  %s %d (reported by core %d)  %s\n", ev.Time.Format(time.RFC3339), ev.Text, ev.Core, ev.By, ev.Detail)
	}
	return nil
}

// runPartition reassigns a partition and its unfinished tasks — failback
// in the core-binding topology is this manual step, as in the seed.
func runPartition(ctx context.Context, g global, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("partition", flag.ContinueOnError)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageError("usage: partition NAME CORE")
	}
	core, err := strconv.Atoi(fs.Arg(1))
	if err != nil || core < 1 {
		return usageError("core %q is not a core number", fs.Arg(1))
	}
	cli, st, err := g.connect()
	if err != nil {
		return err
	}
	defer cli.Close()
	n, err := st.AssignPartition(ctx, fs.Arg(0), core)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "partition %s assigned to core %d; %d tasks moved\n", fs.Arg(0), core, n)
	return nil
}
