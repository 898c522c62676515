// Command hafw-bench is `make bench`: it runs every scenario of
// bench/scenarios (hafw side by side with the tool it is compared with), prints a
// table of percentiles and ratios, and writes bench/results.json. A
// scenario that fails is reported and the others still run; the exit
// status is then 1, so a broken measurement is never mistaken for a result.
//
// BENCH_QUICK=1 (or -quick) runs fewer trials and shorter loss runs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hafw/hafw/bench/scenarios"
	"github.com/hafw/hafw/internal/benchkit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, scenarios.All())
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hafw-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, suite []scenarios.Scenario) error {
	fs := flag.NewFlagSet("hafw-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "bench/results.json", "results `FILE`")
	quick := fs.Bool("quick", os.Getenv("BENCH_QUICK") == "1", "fewer trials, shorter runs (default from BENCH_QUICK=1)")
	only := fs.String("only", "", "comma-separated scenarios to run (default all)")
	cache := fs.String("cache", ".cache/bench", "`DIR` kept between runs (u-root CLI, image cache)")
	treeFlag := fs.String("tree", ".", "hafw git `DIR` whose HEAD is measured")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var selected []string
	if *only != "" {
		selected = strings.Split(*only, ",")
		for _, name := range selected {
			if !slices.ContainsFunc(suite, func(s scenarios.Scenario) bool { return s.Name == name }) {
				return fmt.Errorf("-only: no scenario %q", name)
			}
		}
	}
	tree, err := filepath.Abs(*treeFlag)
	if err != nil {
		return fmt.Errorf("resolving -tree: %w", err)
	}
	cacheDir, err := filepath.Abs(*cache)
	if err != nil {
		return fmt.Errorf("resolving -cache: %w", err)
	}
	work, err := os.MkdirTemp("", "hafw-bench-")
	if err != nil {
		return fmt.Errorf("creating work dir: %w", err)
	}
	defer os.RemoveAll(work)
	log := slog.New(slog.NewTextHandler(stderr, nil))
	src, err := scenarios.Snapshot(ctx, tree, filepath.Join(work, "src"))
	if err != nil {
		return err
	}
	log.Info("measuring the committed code", "commit", src.Commit)
	o := scenarios.Options{SrcDir: src.Dir, SourceDateEpoch: src.CommitTime, KernelDir: filepath.Join(tree, ".cache", "kernel"),
		WorkDir: work, CacheDir: cacheDir, Quick: *quick, Log: stderr}

	start := time.Now()
	rep := benchkit.Report{When: start.UTC(), Machine: machine(), Commit: src.Commit, Quick: *quick}
	var failed []string
	for _, sc := range suite {
		if selected != nil && !slices.Contains(selected, sc.Name) {
			continue
		}
		log.Info("scenario", "name", sc.Name, "quick", *quick)
		t := time.Now()
		comps, err := sc.Run(ctx, o)
		rep.Comparisons = append(rep.Comparisons, comps...)
		var notReady scenarios.ErrNotReady
		switch {
		case errors.As(err, &notReady):
			log.Warn("scenario left out", "name", sc.Name, "why", notReady.Why)
			rep.Skipped = append(rep.Skipped, benchkit.Skipped{Scenario: sc.Name, Reason: notReady.Why})
		case err != nil:
			log.Error("scenario failed", "name", sc.Name, "err", err)
			rep.Skipped = append(rep.Skipped, benchkit.Skipped{Scenario: sc.Name, Reason: err.Error(), Failed: true})
			failed = append(failed, sc.Name)
		default:
			log.Info("scenario done", "name", sc.Name, "took", time.Since(t).Round(time.Second))
		}
		// Save after every scenario: an interrupted long run keeps what it
		// measured.
		rep.Seconds = time.Since(start).Seconds()
		if err := benchkit.WriteJSON(*out, rep); err != nil {
			return err
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	if err := benchkit.WriteTable(stdout, rep.Comparisons); err != nil {
		return fmt.Errorf("printing table: %w", err)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(stdout, "left out: %s: %s\n", s.Scenario, s.Reason)
	}
	fmt.Fprintf(stdout, "run took %s (quick=%v)\n", time.Since(start).Round(time.Second), *quick)
	if err := benchkit.WriteJSON(*out, rep); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("scenarios failed: %s (partial results in %s)", strings.Join(failed, ", "), *out)
	}
	return nil
}

// machine describes where the figures were taken.
func machine() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs, %s/%s, %s", model, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}
