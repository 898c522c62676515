package benchkit

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	var s []float64
	for i := 100; i >= 1; i-- {
		s = append(s, float64(i))
	}
	st := Summarize(s)
	if st.N != 100 || st.P50 != 50 || st.P95 != 95 || st.P99 != 99 || st.Min != 1 || st.Max != 100 || st.Mean != 50.5 {
		t.Fatalf("Summarize(1..100) = %+v", st)
	}
	if (Summarize(nil) != Stats{}) {
		t.Fatal("Summarize(nil) is not zero")
	}
}

func TestRatioAndTable(t *testing.T) {
	c := Comparison{Scenario: "failover", Metric: "outage", LowerIsBetter: true,
		Ours: Series{Subject: "hafw", Unit: "ms", Samples: []float64{100, 200, 300}},
		Peer: &Series{Subject: "keepalived", Unit: "ms", Samples: []float64{400, 800, 1200}}}
	if r := c.Ratio(); r != 0.25 {
		t.Fatalf("Ratio = %v, want 0.25", r)
	}
	if r := (Comparison{Ours: c.Ours}).Ratio(); !math.IsNaN(r) {
		t.Fatalf("Ratio without peer = %v, want NaN", r)
	}
	var b bytes.Buffer
	if err := WriteTable(&b, []Comparison{c}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"keepalived", "0.25 (lower is better)", "200", "800"} {
		if !strings.Contains(out, want) {
			t.Fatalf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestNumNeverExponent(t *testing.T) {
	for v, want := range map[float64]string{21746.361: "21746", 138.4: "138", 12.34: "12.3", 3.741: "3.74", 0.1543: "0.154", 0: "0"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestWriteJSONRoundTrip(t *testing.T) {
	path := t.TempDir() + "/results.json"
	r := Report{Machine: "m", Quick: true, Skipped: []Skipped{{Scenario: "cores", Reason: "not there yet"}},
		Comparisons: []Comparison{{Scenario: "micro", Metric: "x", Ours: Series{Subject: "hafw", Unit: "µs/op", Samples: []float64{1, 2}}}}}
	if err := WriteJSON(path, r); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Quick || len(back.Skipped) != 1 || back.Skipped[0].Scenario != "cores" || len(back.Comparisons[0].Ours.Samples) != 2 {
		t.Fatalf("round trip lost data: %+v", back)
	}
}
