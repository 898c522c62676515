package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/hafw/hafw/cores"
	"github.com/hafw/hafw/cores/plan"
)

// searchFlags are the seed's Search for Tasks fields, shared by tasks,
// rerun and pause.
type searchFlags struct {
	status, failure, since, until string
	core                          int
	byStart                       bool
}

func (s *searchFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.status, "status", "", "Pending, Waiting, Running, Succeeded, Failed or Paused")
	fs.StringVar(&s.failure, "failure", "", `failure type, e.g. "Core Down"`)
	fs.IntVar(&s.core, "core", 0, "core number")
	fs.StringVar(&s.since, "since", "", "time range start: now, +4h, -30m or RFC 3339")
	fs.StringVar(&s.until, "until", "", "time range end")
	fs.BoolVar(&s.byStart, "by-start", false, "range applies to the start time (default: schedule time)")
}

func (s *searchFlags) filter(now time.Time) (plan.Filter, error) {
	f := plan.Filter{Failure: plan.FailureType(s.failure), Core: s.core, ByStart: s.byStart}
	if s.status != "" {
		st, err := plan.ParseStatus(s.status)
		if err != nil {
			return f, usageError("%v", err)
		}
		f.Status = st
	}
	var err error
	if f.Since, err = parseTime(s.since, now); err != nil {
		return f, usageError("--since: %v", err)
	}
	if f.Until, err = parseTime(s.until, now); err != nil {
		return f, usageError("--until: %v", err)
	}
	return f, nil
}

// runTasks searches tasks (e.g. the tasks that failed because a core went
// down: --status Failed --failure "Core Down" --core 1 --by-start --since -1h).
func runTasks(ctx context.Context, g global, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tasks", flag.ContinueOnError)
	var sf searchFlags
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	f, err := sf.filter(time.Now())
	if err != nil {
		return err
	}
	cli, st, err := g.connect()
	if err != nil {
		return err
	}
	defer cli.Close()
	ts, err := st.Tasks(ctx, f)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ts)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tFAILURE\tCORE\tRETRIES\tSCHEDULE\tSTARTED\tPARTITION")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", t.ID, t.Status, dash(string(t.Failure)), t.Core, t.Retries,
			stamp(t.Schedule), stamp(t.Started), dash(t.Partition))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// runAdd adds one task; without --core it goes where the topology puts it.
func runAdd(ctx context.Context, g global, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("add", flag.ContinueOnError)
	id := fs.String("id", "", "task ID (required)")
	core := fs.Int("core", 0, "core number (default: chosen by the topology)")
	at := fs.String("at", "now", "schedule time: now, +DURATION or RFC 3339")
	retries := fs.Int("retries", 0, "retries left")
	partition := fs.String("partition", "", "partition (site)")
	critical := fs.Bool("critical", false, "critical: never paused by `pause`")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	sched, err := parseTime(*at, time.Now())
	if err != nil {
		return usageError("--at: %v", err)
	}
	t := plan.Task{ID: *id, Command: fs.Args(), Schedule: sched, Retries: *retries, Status: plan.Pending,
		Partition: *partition, Critical: *critical, Core: *core}
	cli, st, err := g.connect()
	if err != nil {
		return err
	}
	defer cli.Close()
	if t.Core == 0 {
		if t.Core, err = pick(ctx, st, t.Partition); err != nil {
			return err
		}
	}
	if err := t.Validate(); err != nil {
		return usageError("%v", err)
	}
	if err := st.AddTasks(ctx, t); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "task %s added on core %d\n", t.ID, t.Core)
	return nil
}

// pick places a task on a running core per the topology.
func pick(ctx context.Context, st *cores.Store, partition string) (int, error) {
	sn, err := st.Snapshot(ctx)
	if err != nil {
		return 0, err
	}
	ts, err := st.Tasks(ctx, plan.Filter{})
	if err != nil {
		return 0, err
	}
	return plan.PickCore(sn.Cores, sn.Running(), unfinished(ts), sn.Partitions[partition], sn.Options)
}

// runRerun makes failed tasks Pending again: the given IDs, or every task
// the search flags select (status Failed implied).
func runRerun(ctx context.Context, g global, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rerun", flag.ContinueOnError)
	var sf searchFlags
	sf.register(fs)
	retries := fs.Int("retries", 0, "retries the re-run task gets")
	to := fs.Int("to", 0, "core to run on (default: chosen by the topology)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	sf.status = string(plan.Failed)
	f, err := sf.filter(time.Now())
	if err != nil {
		return err
	}
	cli, st, err := g.connect()
	if err != nil {
		return err
	}
	defer cli.Close()
	ids := fs.Args()
	if len(ids) == 0 {
		if sf.failure == "" && sf.core == 0 && sf.since == "" && sf.until == "" {
			return usageError("give task IDs or search flags (--failure, --core, --since, --until)")
		}
		ts, err := st.Tasks(ctx, f)
		if err != nil {
			return err
		}
		for _, t := range ts {
			ids = append(ids, t.ID)
		}
	}
	n := 0
	for _, id := range ids {
		t, err := st.Task(ctx, id)
		if err != nil {
			return err
		}
		core := *to
		if core == 0 {
			if core, err = pick(ctx, st, t.Partition); err != nil {
				return err
			}
		}
		_, ok, err := st.UpdateTask(ctx, id, func(t plan.Task) (plan.Task, bool) { return plan.Rerun(t, core, *retries) })
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintf(stderr, "task %s is not Failed; left alone\n", id)
			continue
		}
		fmt.Fprintf(stdout, "task %s re-run on core %d\n", id, core)
		n++
	}
	fmt.Fprintf(stdout, "%d tasks re-run\n", n)
	return nil
}

// runPause pauses the non-critical tasks scheduled in the next N hours,
// the seed's advice when fewer cores carry the load after a failover.
func runPause(ctx context.Context, g global, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pause", flag.ContinueOnError)
	hours := fs.Float64("hours", 4, "pause tasks scheduled from now to now+hours")
	core := fs.Int("core", 0, "only tasks on this core")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *hours <= 0 {
		return usageError("--hours must be positive")
	}
	within := time.Duration(*hours * float64(time.Hour))
	cli, st, err := g.connect()
	if err != nil {
		return err
	}
	defer cli.Close()
	now := time.Now()
	ts, err := st.Tasks(ctx, plan.Filter{Core: *core})
	if err != nil {
		return err
	}
	n := 0
	for _, t := range ts {
		if !plan.PauseCandidate(t, now, within) {
			continue
		}
		_, ok, err := st.UpdateTask(ctx, t.ID, func(t plan.Task) (plan.Task, bool) {
			if !plan.PauseCandidate(t, now, within) {
				return t, false
			}
			t.Status = plan.Paused
			return t, true
		})
		if err != nil {
			return err
		}
		if ok {
			fmt.Fprintf(stdout, "paused %s (core %d, scheduled %s)\n", t.ID, t.Core, stamp(t.Schedule))
			n++
		}
	}
	fmt.Fprintf(stdout, "%d tasks paused\n", n)
	return nil
}

// runResume makes paused tasks Pending again.
func runResume(ctx context.Context, g global, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("resume", flag.ContinueOnError)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError("usage: resume ID...")
	}
	cli, st, err := g.connect()
	if err != nil {
		return err
	}
	defer cli.Close()
	for _, id := range fs.Args() {
		_, ok, err := st.UpdateTask(ctx, id, func(t plan.Task) (plan.Task, bool) {
			if t.Status != plan.Paused {
				return t, false
			}
			t.Status = plan.Pending
			return t, true
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s\n", id, map[bool]string{true: "resumed", false: "not paused; left alone"}[ok])
	}
	return nil
}
