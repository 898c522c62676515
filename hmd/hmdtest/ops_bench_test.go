package hmdtest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/api"
)

// BenchmarkTrapsOutage is the failover outage (BenchmarkFailoverOutage's
// method, wait 1 s) with no trap destination, and with three on both
// nodes — a v2c receiver, a v3 inform receiver and a black hole whose
// informs are retried into the void — to show that notifications cost the
// failover nothing.
func BenchmarkTrapsOutage(b *testing.B) {
	for _, traps := range []int{0, 3} {
		b.Run(fmt.Sprintf("traps=%d", traps), func(b *testing.B) {
			var extra func(sc *scope, l *lan, p, s *node)
			if traps > 0 {
				extra = func(sc *scope, l *lan, p, s *node) {
					nmsReceivers(sc, l)
					addTrapDestinations(sc, l, p, s)
				}
			}
			reportOutages(b, func() float64 { return outageTrial(b, time.Second, "10.254.0", extra) })
		})
	}
}

// BenchmarkMetricsScrape measures hmd's CPU time and memory on a healthy
// pair over HAFW_BENCH_SECONDS (default 60) with the secondary's /metrics
// scraped every second (as Prometheus would, over TLS with the token), and
// without scraping.
func BenchmarkMetricsScrape(b *testing.B) {
	secs := 60
	if n, err := strconv.Atoi(os.Getenv("HAFW_BENCH_SECONDS")); err == nil && n > 0 {
		secs = n
	}
	for _, scrape := range []bool{false, true} {
		b.Run(fmt.Sprintf("scrape=%v", scrape), func(b *testing.B) {
			for range b.N {
				sc := &scope{TB: b}
				l, _, s := pairWithWait(sc, "10.255.0", time.Second, nil)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				token, err := s.api().MetricsToken(ctx)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				cpu0 := cpuSeconds(s)
				url := fmt.Sprintf("https://%s:%d/metrics", s.hip, api.Port)
				scrapes := 0
				for end := time.Now().Add(time.Duration(secs) * time.Second); time.Now().Before(end); {
					if scrape {
						if code, _ := getIn(b, l.client, url, token); code != http.StatusOK {
							b.Fatalf("scrape: %d", code)
						}
						scrapes++
					}
					time.Sleep(time.Second)
				}
				b.ReportMetric((cpuSeconds(s)-cpu0)*1000/float64(secs), "hmd-cpu-ms/s")
				b.ReportMetric(rssMB(s), "hmd-rss-MB")
				b.ReportMetric(float64(scrapes), "scrapes")
				b.ReportMetric(0, "ns/op")
				sc.close()
			}
		})
	}
}

// cpuSeconds is the user+system CPU time n's hmd has used.
func cpuSeconds(n *node) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n.proc.Cmd.Process.Pid))
	if err != nil {
		return -1
	}
	// Fields after the command name's closing parenthesis; utime and
	// stime are the 12th and 13th of them, in clock ticks (100 Hz).
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(f) < 13 {
		return -1
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}
