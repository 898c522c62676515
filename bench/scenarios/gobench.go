// Package scenarios holds the measurements behind `make bench`. Each
// scenario measures hafw and the tool it is compared with in the same run, on
// the same machine, with the same method, and returns benchkit rows.
//
// The network scenarios reuse the benchmarks that already live next to
// the code they measure (hmd/hmdtest starts real hmd and keepalived
// processes in network namespaces): this package runs them through
// `go test -bench` with one trial per benchmark iteration and collects
// every trial as a sample, so the percentiles are computed here from raw
// samples rather than copied from a summary.
package scenarios

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// Result is one line of `go test -bench` output.
type Result struct {
	// Name is the benchmark's full name without the GOMAXPROCS suffix,
	// e.g. "BenchmarkFailoverOutage/wait=10s".
	Name string
	N    int64
	// Metrics maps a unit ("ns/op", "p50-ms", …) to its value.
	Metrics map[string]float64
}

// procsSuffix is the "-2" go test appends to names when GOMAXPROCS > 1.
var procsSuffix = regexp.MustCompile(`-\d+$`)

// ParseBench reads `go test -bench` output and returns its result lines in
// order; every other line (logs, PASS, ok) is ignored. A result line whose
// values do not come in value/unit pairs is an error: it means the output
// format is not what the caller expects, and silently dropping metrics
// would turn into missing rows.
func ParseBench(r io.Reader) ([]Result, error) {
	var res []Result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue // a log line that starts with a benchmark's name
		}
		if len(f)%2 != 0 {
			return nil, fmt.Errorf("benchmark line %q: values and units do not pair up", sc.Text())
		}
		r := Result{Name: procsSuffix.ReplaceAllString(f[0], ""), N: n, Metrics: map[string]float64{}}
		for i := 2; i < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark line %q: value %q: %w", sc.Text(), f[i], err)
			}
			r.Metrics[f[i+1]] = v
		}
		res = append(res, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading benchmark output: %w", err)
	}
	return res, nil
}

// Samples collects unit's value from every result named name, in order.
func Samples(rs []Result, name, unit string) []float64 {
	var s []float64
	for _, r := range rs {
		if v, ok := r.Metrics[unit]; ok && r.Name == name {
			s = append(s, v)
		}
	}
	return s
}

// goBench runs benchmarks matching pattern in pkg, count times, for
// benchtime each, with extra environment variables and flags for the test
// binary, streaming go test's output to o.Log as progress.
func (o Options) goBench(ctx context.Context, pkg, pattern, benchtime string, count int, env []string, testArgs ...string) ([]Result, error) {
	args := []string{"test", "-buildvcs=false", "-run", "^$", "-bench", pattern, "-benchtime", benchtime,
		"-count", strconv.Itoa(count), "-timeout", "0", pkg}
	if len(testArgs) > 0 {
		args = append(append(args, "-args"), testArgs...)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = o.SrcDir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, o.Log)
	cmd.Stderr = o.Log
	fmt.Fprintf(o.Log, "+ %s go %s\n", strings.Join(env, " "), strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go test -bench %s %s: %w", pattern, pkg, err)
	}
	res, err := ParseBench(&out)
	if err != nil {
		return nil, err
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("go test -bench %s %s: no benchmark ran (skipped? see the log)", pattern, pkg)
	}
	return res, nil
}
