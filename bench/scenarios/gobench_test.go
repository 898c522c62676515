package scenarios

import (
	"strings"
	"testing"
)

const sampleOutput = `goos: linux
goarch: amd64
pkg: github.com/hafw/hafw/hmd/hmdtest
cpu: Intel(R) Xeon(R) CPU
BenchmarkFailoverOutage/wait=10s-2         	       1	         0 ns/op	     10412 p50-ms	     10412 p95-ms
    bench_test.go:12: BenchmarkFailoverOutage is logging 3 things
BenchmarkFailoverOutage/wait=10s-2         	       1	         0 ns/op	     10230 p50-ms	     10230 p95-ms
BenchmarkFalseFailovers/wait=1s/loss=20%-2 	       1	         0 ns/op	         0 false-failovers	        12.5 max-client-gap-ms
BenchmarkSealOpen                          	  300000	      3741 ns/op
PASS
ok  	github.com/hafw/hafw/hmd/hmdtest	42.1s
`

func TestParseBench(t *testing.T) {
	res, err := ParseBench(strings.NewReader(sampleOutput))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 {
		t.Fatalf("got %d results, want 4: %+v", len(res), res)
	}
	if got := Samples(res, "BenchmarkFailoverOutage/wait=10s", "p50-ms"); len(got) != 2 || got[0] != 10412 || got[1] != 10230 {
		t.Fatalf("outage samples %v", got)
	}
	if got := Samples(res, "BenchmarkFalseFailovers/wait=1s/loss=20%", "max-client-gap-ms"); len(got) != 1 || got[0] != 12.5 {
		t.Fatalf("gap samples %v", got)
	}
	if res[3].Name != "BenchmarkSealOpen" || res[3].N != 300000 || res[3].Metrics["ns/op"] != 3741 {
		t.Fatalf("GOMAXPROCS=1 line parsed as %+v", res[3])
	}
	if got := Samples(res, "BenchmarkFailoverOutage/wait=1s", "p50-ms"); got != nil {
		t.Fatalf("samples of a benchmark that did not run: %v", got)
	}
}

func TestParseBenchRefusesUnpairedValues(t *testing.T) {
	for _, line := range []string{
		"BenchmarkX-2 \t 1 \t 10 ns/op \t 5\n",
		"BenchmarkX-2 \t 1 \t ten ns/op\n",
	} {
		if _, err := ParseBench(strings.NewReader(line)); err == nil {
			t.Errorf("ParseBench(%q) accepted a malformed result line", line)
		}
	}
}

func FuzzParseBench(f *testing.F) {
	f.Add(sampleOutput)
	f.Fuzz(func(t *testing.T, s string) {
		res, err := ParseBench(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, r := range res {
			if !strings.HasPrefix(r.Name, "Benchmark") || r.Metrics == nil {
				t.Fatalf("bad result %+v from %q", r, s)
			}
		}
	})
}
