package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hafw/hafw/bench/scenarios"
	"github.com/hafw/hafw/internal/benchkit"
	"github.com/hafw/hafw/internal/testenv"
)

// fakeSuite stands in for the real scenarios (which need root, QEMU and
// minutes): one that measures, one whose code is not there yet, one that
// breaks after a first row.
func fakeSuite() []scenarios.Scenario {
	row := func(metric string) benchkit.Comparison {
		return benchkit.Comparison{Scenario: "x", Metric: metric, Ours: benchkit.Series{Subject: "hafw", Unit: "ms", Samples: []float64{1, 2, 3}}}
	}
	return []scenarios.Scenario{
		{Name: "good", Run: func(context.Context, scenarios.Options) ([]benchkit.Comparison, error) {
			return []benchkit.Comparison{row("good metric")}, nil
		}},
		{Name: "later", Run: func(context.Context, scenarios.Options) ([]benchkit.Comparison, error) {
			return nil, scenarios.ErrNotReady{Why: "code not in the tree"}
		}},
		{Name: "broken", Run: func(context.Context, scenarios.Options) ([]benchkit.Comparison, error) {
			return []benchkit.Comparison{row("partial metric")}, errors.New("peer crashed")
		}},
	}
}

// gitTree makes a one-commit repository for the driver to snapshot.
func gitTree(t *testing.T) string {
	t.Helper()
	testenv.RequireCommand(t, "git", "tar")
	tree := t.TempDir()
	if err := os.WriteFile(filepath.Join(tree, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "go.mod"}, {"commit", "-q", "-m", "one"}} {
		cmd := exec.Command("git", append([]string{"-C", tree, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return tree
}

func readReport(t *testing.T, path string) benchkit.Report {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep benchkit.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("results.json: %v\n%s", err, data)
	}
	return rep
}

// TestRunReportsEveryOutcome: rows of a scenario that measured and the
// partial rows of one that broke are kept; the scenario not ready and the
// broken one are named with their reasons; a broken one makes the run fail.
func TestRunReportsEveryOutcome(t *testing.T) {
	out := filepath.Join(t.TempDir(), "results.json")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-quick", "-out", out, "-cache", t.TempDir(), "-tree", gitTree(t)}, &stdout, &stderr, fakeSuite())
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("run = %v, want an error naming the broken scenario", err)
	}
	rep := readReport(t, out)
	if !rep.Quick || len(rep.Comparisons) != 2 || len(rep.Commit) != 40 {
		t.Fatalf("report %+v", rep)
	}
	reasons := map[string]benchkit.Skipped{}
	for _, s := range rep.Skipped {
		reasons[s.Scenario] = s
	}
	if s, ok := reasons["later"]; !ok || s.Failed || s.Reason != "code not in the tree" {
		t.Errorf("not-ready scenario recorded as %+v", s)
	}
	if s, ok := reasons["broken"]; !ok || !s.Failed || !strings.Contains(s.Reason, "peer crashed") {
		t.Errorf("broken scenario recorded as %+v", s)
	}
	for _, want := range []string{"good metric", "partial metric", "left out: later: code not in the tree"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestRunOnlySelected(t *testing.T) {
	out := filepath.Join(t.TempDir(), "results.json")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"-only", "good", "-out", out, "-cache", t.TempDir(), "-tree", gitTree(t)}, &stdout, &stderr, fakeSuite()); err != nil {
		t.Fatalf("run: %v", err)
	}
	if rep := readReport(t, out); len(rep.Comparisons) != 1 || rep.Comparisons[0].Metric != "good metric" {
		t.Fatalf("report %+v", rep)
	}
}

func TestRunRefusesBadArguments(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"-only", "good,typo"}} {
		out := filepath.Join(t.TempDir(), "results.json")
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), append(args, "-out", out), &stdout, &stderr, fakeSuite()); err == nil {
			t.Errorf("run %v accepted", args)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("run %v wrote a report", args)
		}
	}
}
