package scenarios

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hafw/hafw/internal/benchkit"
)

// Ops is the operations figures: the failover outage with three
// trap destinations (one a black hole) next to none — notifications must
// cost the failover nothing — and hmd's CPU and memory with /metrics
// scraped every second next to no scraping.
func Ops(ctx context.Context, o Options) ([]benchkit.Comparison, error) {
	trials := o.pick(3, 20)
	out, err := o.goBench(ctx, hmdtestPkg, "^BenchmarkTrapsOutage$", "1x", trials, []string{"HAFW_BENCH_TRIALS=1"})
	if err != nil {
		return nil, err
	}
	with, without := Samples(out, "BenchmarkTrapsOutage/traps=3", "p50-ms"), Samples(out, "BenchmarkTrapsOutage/traps=0", "p50-ms")
	if len(with) == 0 || len(without) == 0 {
		return nil, fmt.Errorf("trap outage: missing samples (with %d, without %d)", len(with), len(without))
	}
	comps := []benchkit.Comparison{{Scenario: "ops", Metric: "client outage, wait 1s, 3 trap destinations (1 black hole) vs none",
		Ours:          benchkit.Series{Subject: "hafw, 3 trap destinations", Unit: "ms", Samples: with},
		Peer:          &benchkit.Series{Subject: "hafw, no trap destination", Unit: "ms", Samples: without},
		LowerIsBetter: true,
		Note:          fmt.Sprintf("kill -9 + link down to first answer via the VIP, %d trials each; goal: no measurable difference", trials)}}

	secs := o.pick(20, 60)
	out, err = o.goBench(ctx, hmdtestPkg, "^BenchmarkMetricsScrape$", "1x", 1, []string{"HAFW_BENCH_SECONDS=" + strconv.Itoa(secs)})
	if err != nil {
		return comps, err
	}
	for _, m := range []struct{ key, metric, unit string }{
		{"hmd-cpu-ms/s", "hmd CPU time, /metrics scraped every second vs not", "ms/s"},
		{"hmd-rss-MB", "hmd resident memory, /metrics scraped every second vs not", "MiB"},
	} {
		on, off := Samples(out, "BenchmarkMetricsScrape/scrape=true", m.key), Samples(out, "BenchmarkMetricsScrape/scrape=false", m.key)
		if len(on) == 0 || len(off) == 0 {
			return comps, fmt.Errorf("metrics scrape: missing %s", m.key)
		}
		comps = append(comps, benchkit.Comparison{Scenario: "ops", Metric: m.metric,
			Ours:          benchkit.Series{Subject: "hafw, scraped", Unit: m.unit, Samples: on},
			Peer:          &benchkit.Series{Subject: "hafw, not scraped", Unit: m.unit, Samples: off},
			LowerIsBetter: true,
			Note:          fmt.Sprintf("secondary of a healthy pair (wait 1 s) over %d s, one run each", secs)})
	}
	return comps, nil
}
