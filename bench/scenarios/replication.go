package scenarios

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hafw/hafw/internal/benchkit"
)

const replicatePkg = "./hmd/replicate"

// Replication is the data replication figure, from the benchmarks next to
// hmd/replicate (a standby in its own namespace behind a veth pair):
// initial sync throughput against rsync (daemon in the standby's
// namespace, --whole-file --fsync) of the same file over the same link;
// durable commit latency in maximum availability against a local-only
// commit; failback catch-up of 10k changes against a full copy.
func Replication(ctx context.Context, o Options) ([]benchkit.Comparison, error) {
	if err := o.hasBenchmarks(ctx, replicatePkg, "BenchmarkCommit", "BenchmarkInitialSync", "BenchmarkFailback"); err != nil {
		return nil, err
	}
	mib := o.pick(64, 1024)
	trials := o.pick(1, 3)
	commits := o.pick(500, 2000)
	var comps []benchkit.Comparison

	// The commit benchmark summarises its own b.N commits; each percentile
	// is one row whose single sample is that percentile.
	res, err := o.goBench(ctx, replicatePkg, "^BenchmarkCommit$", strconv.Itoa(commits)+"x", 1, nil)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{"p50", "p95", "p99"} {
		ma, local := Samples(res, "BenchmarkCommit/maximum-availability", p+"-ms"), Samples(res, "BenchmarkCommit/local", p+"-ms")
		if len(ma) == 0 || len(local) == 0 {
			return comps, fmt.Errorf("BenchmarkCommit: no %s-ms in the output", p)
		}
		note := fmt.Sprintf("%s of %d commits of one 256-byte put", p, commits)
		if p == "p99" {
			target := "met"
			if ma[0] >= 2 {
				target = "NOT met"
			}
			note += fmt.Sprintf("; target replicated p99 < 2 ms %s (%.2f ms)", target, ma[0])
		}
		comps = append(comps, benchkit.Comparison{Scenario: "replication", Metric: "durable commit latency " + p + ", maximum availability vs local-only",
			Ours:          benchkit.Series{Subject: "hafw replicated", Unit: "ms", Samples: ma},
			Peer:          &benchkit.Series{Subject: "hafw local-only", Unit: "ms", Samples: local},
			LowerIsBetter: true, Note: note})
	}

	size := []string{"-replicate.mib", strconv.Itoa(mib)}
	res, err = o.goBench(ctx, replicatePkg, "^BenchmarkInitialSync$", "1x", trials, nil, size...)
	if err != nil {
		return comps, err
	}
	ours, theirs := Samples(res, "BenchmarkInitialSync", "hafw-MB/s"), Samples(res, "BenchmarkInitialSync", "rsync-MB/s")
	if len(ours) == 0 || len(theirs) == 0 {
		return comps, fmt.Errorf("BenchmarkInitialSync: no throughput in the output")
	}
	comps = append(comps, benchkit.Comparison{Scenario: "replication", Metric: fmt.Sprintf("initial sync throughput, %d MiB of data over veth", mib),
		Ours: benchkit.Series{Subject: "hafw", Unit: "MB/s", Samples: ours},
		Peer: &benchkit.Series{Subject: "rsync daemon", Unit: "MB/s", Samples: theirs},
		Note: fmt.Sprintf("same database file, same link; rsync --whole-file --fsync; %d trials; target ratio >= 1", trials)})

	res, err = o.goBench(ctx, replicatePkg, "^BenchmarkFailback$", "1x", trials, nil, size...)
	if err != nil {
		return comps, err
	}
	catchUp, full := Samples(res, "BenchmarkFailback", "catchup-10k-ms"), Samples(res, "BenchmarkFailback", "fullcopy-ms")
	if len(catchUp) == 0 || len(full) == 0 {
		return comps, fmt.Errorf("BenchmarkFailback: no catch-up/full-copy times in the output")
	}
	comps = append(comps, benchkit.Comparison{Scenario: "replication", Metric: fmt.Sprintf("failback of 10k changes vs full copy (%d MiB)", mib),
		Ours:          benchkit.Series{Subject: "hafw catch-up", Unit: "ms", Samples: catchUp},
		Peer:          &benchkit.Series{Subject: "hafw full copy", Unit: "ms", Samples: full},
		LowerIsBetter: true, Note: fmt.Sprintf("%d trials", trials)})
	return comps, nil
}
