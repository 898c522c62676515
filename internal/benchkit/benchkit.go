// Package benchkit is the shared machinery of `make bench`: every scenario
// measures hafw and the tool it is compared with (keepalived, rsync, u-root's
// CLI, …) in the same run, on the same machine, and reports both side by
// side. Numbers are samples, summarised as percentiles; the ratio is always
// hafw divided by the peer, so below 1 means hafw needs less.
package benchkit

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/hafw/hafw/internal/atomicfile"
)

// Series is the samples of one measured subject.
type Series struct {
	Subject string    `json:"subject"` // "hafw" or the peer's name
	Unit    string    `json:"unit"`    // "ms", "MB/s", "MiB", …
	Samples []float64 `json:"samples"`
}

// Stats summarises a Series.
type Stats struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
}

// Summarize computes the statistics of samples (nearest-rank percentiles).
func Summarize(samples []float64) Stats {
	if len(samples) == 0 {
		return Stats{}
	}
	s := append([]float64(nil), samples...)
	sort.Float64s(s)
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	rank := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(s)))) - 1
		if i < 0 {
			i = 0
		}
		return s[i]
	}
	return Stats{N: len(s), Mean: sum / float64(len(s)), P50: rank(50), P95: rank(95), P99: rank(99), Min: s[0], Max: s[len(s)-1]}
}

// Comparison is one metric measured for hafw and, where there is one, for
// the peer tool it is compared with.
type Comparison struct {
	Scenario string  `json:"scenario"`
	Metric   string  `json:"metric"`
	Ours     Series  `json:"ours"`
	Peer     *Series `json:"peer,omitempty"`
	// LowerIsBetter orients the ratio's reading in the table.
	LowerIsBetter bool   `json:"lower_is_better"`
	Note          string `json:"note,omitempty"`
}

// Ratio is hafw's median over the peer's median, or NaN without a peer.
func (c Comparison) Ratio() float64 {
	if c.Peer == nil {
		return math.NaN()
	}
	p := Summarize(c.Peer.Samples).P50
	if p == 0 {
		return math.NaN()
	}
	return Summarize(c.Ours.Samples).P50 / p
}

// Report is the content of bench/results.json.
type Report struct {
	When        time.Time    `json:"when"`
	Machine     string       `json:"machine"`
	Commit      string       `json:"commit"` // the code measured
	Quick       bool         `json:"quick"`
	Seconds     float64      `json:"seconds"` // wall time of the whole run
	Comparisons []Comparison `json:"comparisons"`
	// Skipped lists the scenarios that produced no rows and why (code not
	// there yet, a failure), so an absent row is never silent.
	Skipped []Skipped `json:"skipped,omitempty"`
}

// Skipped is a scenario left out of a run.
type Skipped struct {
	Scenario string `json:"scenario"`
	Reason   string `json:"reason"`
	Failed   bool   `json:"failed"` // true when it was attempted and broke
}

// WriteTable prints the comparisons as a table of percentiles and ratios.
func WriteTable(w io.Writer, comps []Comparison) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tMETRIC\tSUBJECT\tN\tP50\tP95\tP99\tUNIT\tRATIO (hafw/peer, p50)")
	for _, c := range comps {
		row := func(s Series, ratio string) {
			st := Summarize(s.Samples)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", c.Scenario, c.Metric, s.Subject, st.N, num(st.P50), num(st.P95), num(st.P99), s.Unit, ratio)
		}
		ratio := "-"
		if r := c.Ratio(); !math.IsNaN(r) {
			better := "lower is better"
			if !c.LowerIsBetter {
				better = "higher is better"
			}
			ratio = fmt.Sprintf("%.2f (%s)", r, better)
		}
		row(c.Ours, ratio)
		if c.Peer != nil {
			row(*c.Peer, "")
		}
	}
	return tw.Flush()
}

// num formats a figure with three significant digits but never in
// exponent form, which a reader of a latency table misreads.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100 || a == 0:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// WriteJSON stores the report atomically.
func WriteJSON(path string, r Report) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode bench report: %w", err)
	}
	return atomicfile.Write(path, append(data, '\n'), 0o644)
}
