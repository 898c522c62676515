package scenarios

import (
	"context"
	"io"

	"github.com/hafw/hafw/internal/benchkit"
)

// Options shape a run. Quick trades sample counts and durations for a run
// of minutes instead of most of an hour; the method stays the same.
type Options struct {
	// SrcDir is the hafw source tree (the module root) the benchmarks
	// build and run: a Snapshot of a commit.
	SrcDir string
	// SourceDateEpoch is the commit time of SrcDir, for the image builds.
	SourceDateEpoch int64
	// KernelDir is the unpacked Debian kernel (`make kernel`) the image
	// builds use.
	KernelDir string
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

// All is the suite in the order `make bench` runs it: the cheap rows
// first, then the headline (failover), so that a run cut short still
// leaves the most important rows in the report.
func All() []Scenario {
	return []Scenario{
		{"micro", Micro},
		{"failover", Failover},
		{"image", Image},
		{"cores", Cores},
		{"replication", Replication},
		{"ops", Ops},
	}
}

// pick returns quick when o.Quick, else full.
func (o Options) pick(quick, full int) int {
	if o.Quick {
		return quick
	}
	return full
}
