package scenarios

import (
	"context"
	"fmt"

	"github.com/hafw/hafw/internal/benchkit"
)

// microBench is one package benchmark reported as a row without a peer.
type microBench struct {
	pkg, name, metric string
}

var microBenches = []microBench{
	{"./hmd/heartbeat", "BenchmarkSealOpen", "heartbeat seal+open (HMAC, replay window)"},
	{"./licensing", "BenchmarkVerify", "license verify (parse + Ed25519)"},
	{"./hmd/ha", "BenchmarkStepHeartbeat", "state machine step per heartbeat"},
	{"./osnet", "BenchmarkProbeOwner", "ARP probe round trip (veth + bridge)"},
}

// Micro runs the per-operation benchmarks that have no peer: each is run
// several times (-count) and every run's ns/op is one sample, in µs.
func Micro(ctx context.Context, o Options) ([]benchkit.Comparison, error) {
	count := o.pick(3, 10)
	var comps []benchkit.Comparison
	for _, m := range microBenches {
		res, err := o.goBench(ctx, m.pkg, "^"+m.name+"$", "300ms", count, nil)
		if err != nil {
			return comps, err
		}
		ns := Samples(res, m.name, "ns/op")
		if len(ns) == 0 {
			return comps, fmt.Errorf("%s: no ns/op in the output", m.name)
		}
		us := make([]float64, len(ns))
		for i, v := range ns {
			us[i] = v / 1000
		}
		comps = append(comps, benchkit.Comparison{Scenario: "micro", Metric: m.metric,
			Ours: benchkit.Series{Subject: "hafw", Unit: "µs/op", Samples: us}, LowerIsBetter: true,
			Note: fmt.Sprintf("%s in %s, %d runs of 300 ms each", m.name, m.pkg, count)})
	}
	return comps, nil
}
