package scenarios

import (
	"context"
	"io"

	"github.com/hafw/hafw/internal/benchkit"
)

// Options shape a run. Quick trades sample counts and durations for a run
// of minutes instead of most of an hour; the method stays the same.
type Options struct {
	// SrcDir is the hafw source tree (the module root).
	SrcDir string
	// WorkDir holds build outputs and caches of this run; the caller
	// removes it.
	WorkDir string
	// CacheDir keeps what survives runs (the u-root CLI binary, the image
	// builder's cache with the unpacked kernel).
	CacheDir string
	Quick    bool
	// Log receives the progress of the run (go test output, commands).
	Log io.Writer
}

// Scenario is one measurement of the suite.
type Scenario struct {
	Name string
	Run  func(ctx context.Context, o Options) ([]benchkit.Comparison, error)
}

// All is the suite in the order `make bench` runs it: the cheap rows first,
// so a failure late in a long run still leaves them in the report.
func All() []Scenario {
	return []Scenario{
		{"micro", Micro},
		{"image", Image},
		{"failover", Failover},
		{"cores", Cores},
	}
}

// NotReady names the scenarios of the issues whose code is not in the tree
// yet, with the reason shown in the report instead of invented rows.
func NotReady() []benchkit.Skipped {
	return []benchkit.Skipped{
		{Scenario: "replication", Reason: "issue 6: hmd/replicate exposes no sync-vs-rsync or write-latency measurement yet; rows left out"},
	}
}

// pick returns quick when o.Quick, else full.
func (o Options) pick(quick, full int) int {
	if o.Quick {
		return quick
	}
	return full
}
