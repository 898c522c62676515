package scenarios

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hafw/hafw/internal/benchkit"
)

const hmdtestPkg = "./hmd/hmdtest"

// outagePairs put each hafw failover wait next to the keepalived advert
// interval it is compared with: the seed default and 1 s against VRRP's
// default advert_int 1, the fast settings against VRRP's smallest usable
// one (0.1 s; VRRPv3 counts in centiseconds).
var outagePairs = []struct{ wait, advert string }{
	{"10s", "1s"},
	{"1s", "1s"},
	{"300ms", "0.1s"},
	{"200ms", "0.1s"},
}

// Failover is the failover figure: the outage a client probing the VIP every
// 5 ms (gapprobe, a process of its own in the client namespace; see
// hmd/hmdtest/gapprobe) sees when the active node dies (cable pulled +
// kill -9 at a random phase), hafw's hmd against keepalived in the same
// namespaces; then a healthy pair under 20% and 40% random heartbeat (VRRP) loss: false
// failovers per minute and the longest client gap; and hmd's heartbeat
// response time and memory.
func Failover(ctx context.Context, o Options) ([]benchkit.Comparison, error) {
	trials := o.pick(3, 20)
	lossSecs := o.pick(10, 60)
	// One trial per benchmark iteration, -count trials: every trial's
	// outage is its own sample.
	ours, err := o.goBench(ctx, hmdtestPkg, "^BenchmarkFailoverOutage$", "1x", trials, []string{"HAFW_BENCH_TRIALS=1"})
	if err != nil {
		return nil, err
	}
	peer, err := o.goBench(ctx, hmdtestPkg, "^BenchmarkKeepalivedFailoverOutage$", "1x", trials, []string{"HAFW_BENCH_TRIALS=1"})
	if err != nil {
		return nil, err
	}
	var comps []benchkit.Comparison
	for _, p := range outagePairs {
		c := benchkit.Comparison{Scenario: "failover", Metric: "client outage, wait " + p.wait + " vs advert " + p.advert,
			Ours:          benchkit.Series{Subject: "hafw wait=" + p.wait, Unit: "ms", Samples: Samples(ours, "BenchmarkFailoverOutage/wait="+p.wait, "p50-ms")},
			Peer:          &benchkit.Series{Subject: "keepalived advert=" + p.advert, Unit: "ms", Samples: Samples(peer, "BenchmarkKeepalivedFailoverOutage/advert="+p.advert, "p50-ms")},
			LowerIsBetter: true,
			Note:          fmt.Sprintf("kill -9 + link down to first answer via the VIP, %d trials each", trials)}
		if len(c.Ours.Samples) == 0 || len(c.Peer.Samples) == 0 {
			return comps, fmt.Errorf("outage wait=%s/advert=%s: missing samples (ours %d, peer %d)", p.wait, p.advert, len(c.Ours.Samples), len(c.Peer.Samples))
		}
		if p95 := benchkit.Summarize(c.Ours.Samples).P95; p95 < 400 {
			c.Note += fmt.Sprintf("; target p95 < 400 ms met (%.0f ms)", p95)
		} else {
			c.Note += fmt.Sprintf("; target p95 < 400 ms NOT met (%.0f ms)", p95)
		}
		comps = append(comps, c)
	}

	secsEnv := "HAFW_BENCH_SECONDS=" + strconv.Itoa(lossSecs)
	ours, err = o.goBench(ctx, hmdtestPkg, "^BenchmarkFalseFailovers$", "1x", 1, []string{secsEnv})
	if err != nil {
		return comps, err
	}
	peer, err = o.goBench(ctx, hmdtestPkg, "^BenchmarkKeepalivedFalseFailovers$", "1x", 1, []string{secsEnv})
	if err != nil {
		return comps, err
	}
	perMinute := func(s []float64) []float64 {
		out := make([]float64, len(s))
		for i, v := range s {
			out[i] = v * 60 / float64(lossSecs)
		}
		return out
	}
	var rtt, rss []float64
	for _, p := range outagePairs[1:] {
		for _, loss := range []string{"20%", "40%"} {
			on := fmt.Sprintf("BenchmarkFalseFailovers/wait=%s/loss=%s", p.wait, loss)
			pn := fmt.Sprintf("BenchmarkKeepalivedFalseFailovers/advert=%s/loss=%s", p.advert, loss)
			ff, pff := Samples(ours, on, "false-failovers"), Samples(peer, pn, "false-failovers")
			gap, pgap := Samples(ours, on, "max-client-gap-ms"), Samples(peer, pn, "max-client-gap-ms")
			if len(ff) == 0 || len(pff) == 0 || len(gap) == 0 || len(pgap) == 0 {
				return comps, fmt.Errorf("loss run %s vs %s: missing metrics", on, pn)
			}
			note := fmt.Sprintf("%s random drop of heartbeat (VRRP) packets for %d s, one run", loss, lossSecs)
			target := "met"
			if ff[0] != 0 || gap[0] > 100 {
				target = "NOT met"
			}
			comps = append(comps,
				benchkit.Comparison{Scenario: "false-failover", Metric: fmt.Sprintf("false failovers/min at %s loss, wait %s vs advert %s", loss, p.wait, p.advert),
					Ours:          benchkit.Series{Subject: "hafw wait=" + p.wait, Unit: "1/min", Samples: perMinute(ff)},
					Peer:          &benchkit.Series{Subject: "keepalived advert=" + p.advert, Unit: "1/min", Samples: perMinute(pff)},
					LowerIsBetter: true, Note: note + "; target zero false failovers and no client gap > 100 ms: " + target},
				benchkit.Comparison{Scenario: "false-failover", Metric: fmt.Sprintf("worst client gap at %s loss, wait %s vs advert %s", loss, p.wait, p.advert),
					Ours:          benchkit.Series{Subject: "hafw wait=" + p.wait, Unit: "ms", Samples: gap},
					Peer:          &benchkit.Series{Subject: "keepalived advert=" + p.advert, Unit: "ms", Samples: pgap},
					LowerIsBetter: true, Note: note + "; a client asks the VIP every 5 ms (UDP, kernel receive times): the longest wait for an answer"})
			rtt = append(rtt, Samples(ours, on, "hb-rtt-ms")...)
			rss = append(rss, Samples(ours, on, "hmd-rss-MB")...)
		}
	}
	comps = append(comps,
		benchkit.Comparison{Scenario: "failover", Metric: "heartbeat response time (seed: 4-13 ms)",
			Ours: benchkit.Series{Subject: "hafw", Unit: "ms", Samples: rtt}, LowerIsBetter: true,
			Note: "mean per loss run as hmd's status reports it, one sample per run"},
		benchkit.Comparison{Scenario: "failover", Metric: "hmd resident memory (primary)",
			Ours: benchkit.Series{Subject: "hafw", Unit: "MiB", Samples: rss}, LowerIsBetter: true,
			Note: "VmRSS at the end of each loss run"})
	return comps, nil
}
