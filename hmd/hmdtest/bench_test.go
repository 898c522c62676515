package hmdtest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/daemon"
	"github.com/hafw/hafw/hmd/hmdtest/gapprobe/gapreport"
	"github.com/hafw/hafw/internal/benchkit"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
)

// benchTrials is the number of trials per setting (HAFW_BENCH_TRIALS,
// default 20).
func benchTrials() int {
	if n, err := strconv.Atoi(os.Getenv("HAFW_BENCH_TRIALS")); err == nil && n > 0 {
		return n
	}
	return 20
}

// reportOutages runs benchTrials() outage trials per iteration and reports
// their p50/p95 in ms; hmd and keepalived are measured the same way.
func reportOutages(b *testing.B, trial func() float64) {
	var samples []float64
	for range b.N {
		for range benchTrials() {
			samples = append(samples, trial())
		}
	}
	st := benchkit.Summarize(samples)
	b.ReportMetric(st.P50, "p50-ms")
	b.ReportMetric(st.P95, "p95-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkFailoverOutage measures the outage a client sees when the
// primary dies (cable pulled and kill -9 at a random phase of the heartbeat
// interval): from the kill to the first answer from the secondary through
// the VIP, p50/p95 over HAFW_BENCH_TRIALS trials per failover wait.
func BenchmarkFailoverOutage(b *testing.B) {
	for _, wait := range []time.Duration{10 * time.Second, time.Second, 300 * time.Millisecond, 200 * time.Millisecond} {
		b.Run("wait="+wait.String(), func(b *testing.B) {
			reportOutages(b, func() float64 { return outageTrial(b, wait, "10.238.0", nil) })
		})
	}
}

// scope collects a trial's cleanups so that each trial's namespaces and
// processes go away before the next one starts (a leaf benchmark cannot
// use b.Run and still report its metrics).
type scope struct {
	testing.TB
	cleanups []func()
}

func (s *scope) Cleanup(f func()) { s.cleanups = append(s.cleanups, f) }

func (s *scope) close() {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
}

// outageTrial is one failover outage on subnet; extra, if set, readies
// the pair further before it is paired (the operations benchmarks' trap
// destinations).
func outageTrial(b *testing.B, wait time.Duration, subnet string, extra func(sc *scope, l *lan, p, s *node)) float64 {
	sc := &scope{TB: b}
	defer sc.close()
	l, p, _ := pairWithWait(sc, subnet, wait, func(l *lan, p, s *node) {
		serveProbes(sc, p.ns, p.name, servicePort)
		serveProbes(sc, s.ns, s.name, servicePort)
		if extra != nil {
			extra(sc, l, p, s)
		}
	})
	pr := startGapProber(l, servicePort)
	// A random phase against the heartbeat interval (a fifth of the wait).
	time.Sleep(time.Duration(rand.Int64N(int64(wait/5))) + 200*time.Millisecond)
	killed := time.Now()
	p.kill(l)
	deadline := killed.Add(wait + 30*time.Second)
	for time.Now().Before(deadline) {
		if at, ok := pr.firstAnswer("mse2"); ok {
			return float64(at.Sub(killed).Microseconds()) / 1000
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatalf("the secondary never answered through the VIP within %v of the kill", wait+30*time.Second)
	return 0
}

// BenchmarkFalseFailovers runs a healthy pair for HAFW_BENCH_SECONDS
// (default 60) with a share of heartbeat packets dropped at random
// (nftables numgen on the heartbeat port, both directions, both nodes) and
// reports the failovers that should not have happened, the longest a
// client asking the VIP every 5 ms waited for an answer (reportGaps), the
// mean heartbeat response time and hmd's memory.
func BenchmarkFalseFailovers(b *testing.B) {
	secs := 60
	if n, err := strconv.Atoi(os.Getenv("HAFW_BENCH_SECONDS")); err == nil && n > 0 {
		secs = n
	}
	for _, wait := range []time.Duration{time.Second, 300 * time.Millisecond, 200 * time.Millisecond} {
		for _, loss := range []int{20, 40} {
			b.Run(fmt.Sprintf("wait=%v/loss=%d%%", wait, loss), func(b *testing.B) {
				for range b.N {
					falseFailoverRun(b, wait, loss, secs)
				}
			})
		}
	}
}

func falseFailoverRun(b *testing.B, wait time.Duration, loss, secs int) {
	sc := &scope{TB: b}
	defer sc.close()
	l, p, s := pairWithWait(sc, "10.239.0", wait, func(_ *lan, p, s *node) {
		serveProbes(sc, p.ns, p.name, servicePort)
		serveProbes(sc, s.ns, s.name, servicePort)
	})
	rule := fmt.Sprintf(`table inet loss {
  chain in { type filter hook input priority 0; udp dport %[1]d numgen random mod 100 < %[2]d drop; }
  chain out { type filter hook output priority 0; udp dport %[1]d numgen random mod 100 < %[2]d drop; }
}`, daemon.HeartbeatPort, loss)
	p.nft(rule)
	s.nft(rule)
	before := strings.Count(strings.Join(s.states(), " "), "FAILOVER_INVOKED")
	primaryBefore := len(p.states())
	pr := startGapProber(l, servicePort)
	time.Sleep(time.Duration(secs) * time.Second)
	gaps := pr.stop()
	logEpisodes(b, gaps)
	falseFailovers := strings.Count(strings.Join(s.states(), " "), "FAILOVER_INVOKED") - before
	b.ReportMetric(float64(falseFailovers), "false-failovers")
	b.ReportMetric(float64(len(p.states())-primaryBefore), "primary-state-changes")
	reportGaps(b, gaps)
	b.ReportMetric(p.status().Peers[0].MeanHeartbeatMS, "hb-rtt-ms")
	b.ReportMetric(rssMB(p), "hmd-rss-MB")
	b.ReportMetric(0, "ns/op")
}

// reportGaps reports the client's view of a loss run: the longest wait
// for an answer (the client gap), the same over stretches in
// which the prober kept its schedule, and the prober's longest pause
// between two probes (what it could not see).
func reportGaps(b *testing.B, g gapreport.Summary) {
	b.ReportMetric(float64(g.MaxWait.Microseconds())/1000, "max-client-gap-ms")
	b.ReportMetric(float64(g.MaxWaitUnstalled.Microseconds())/1000, "max-gap-unstalled-ms")
	b.ReportMetric(float64(g.MaxSendGap.Microseconds())/1000, "prober-send-gap-ms")
}

// rssMB is the resident memory of n's hmd.
func rssMB(n *node) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.proc.Cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return -1
}

// BenchmarkKeepalivedFailoverOutage is the side-by-side figure: keepalived
// (Debian's) in the same namespaces, measured the same way as
// BenchmarkFailoverOutage, at advert_int 1 s and 0.1 s (VRRPv3, which
// sub-second adverts need).
func BenchmarkKeepalivedFailoverOutage(b *testing.B) {
	testenv.RequireCommand(b, "keepalived")
	for _, advert := range []string{"1", "0.1"} {
		b.Run("advert="+advert+"s", func(b *testing.B) {
			reportOutages(b, func() float64 { return keepalivedTrial(b, advert) })
		})
	}
}

const keepalivedConf = `global_defs {
  router_id %[1]s
}
vrrp_instance VI_1 {
  version 3
  state %[2]s
  interface eth0
  virtual_router_id 51
  priority %[3]d
  advert_int %[4]s
  virtual_ipaddress {
    %[5]s dev eth0 label eth0:1
  }
}
`

// kaNode is one keepalived in its namespace.
type kaNode struct {
	ns   *netnstest.NS
	port string
	proc *netnstest.Proc
}

// keepalivedPair starts a MASTER (ka1) and a BACKUP (ka2) on a fresh LAN,
// each answering its name on servicePort, and waits for the master to
// hold the VIP (.10).
func keepalivedPair(sc *scope, advert string) (*lan, kaNode, kaNode) {
	l := newLAN(sc, "10.242.0")
	vip := l.prefix(10)
	start := func(name string, host int, state string, prio int) kaNode {
		ns := netnstest.New(sc, name)
		port := l.br.Attach(ns, "eth0")
		ns.AddAddr("eth0", l.prefix(host))
		dir := sc.TempDir()
		conf := filepath.Join(dir, "keepalived.conf")
		if err := os.WriteFile(conf, []byte(fmt.Sprintf(keepalivedConf, name, state, prio, advert, vip)), 0o644); err != nil {
			sc.Fatal(err)
		}
		proc := ns.Start("keepalived", "--dont-fork", "--log-console", "--vrrp", "-f", conf,
			"-p", filepath.Join(dir, "keepalived.pid"), "-r", filepath.Join(dir, "vrrp.pid"))
		serveProbes(sc, ns, name, servicePort)
		return kaNode{ns: ns, port: port, proc: proc}
	}
	master := start("ka1", 2, "MASTER", 150)
	backup := start("ka2", 3, "BACKUP", 100)
	netnstest.Eventually(sc, 15*time.Second, "keepalived's master to hold the VIP", func() bool {
		return strings.Contains(master.ns.IP("-o", "-4", "addr", "show", "dev", "eth0"), " "+vip.Addr().String()+"/")
	})
	return l, master, backup
}

func keepalivedTrial(b *testing.B, advert string) float64 {
	sc := &scope{TB: b}
	defer sc.close()
	l, master, _ := keepalivedPair(sc, advert)
	pr := startGapProber(l, servicePort)
	netnstest.Eventually(sc, 5*time.Second, "the client to reach the master", func() bool {
		_, ok := pr.firstAnswer("ka1")
		return ok
	})
	time.Sleep(time.Duration(rand.Int64N(int64(time.Second))) + 200*time.Millisecond)
	killed := time.Now()
	l.br.SetPort(master.port, false)
	if err := master.proc.Signal(syscall.SIGKILL); err != nil {
		b.Fatal(err)
	}
	deadline := killed.Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if at, ok := pr.firstAnswer("ka2"); ok {
			return float64(at.Sub(killed).Microseconds()) / 1000
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatal("keepalived's backup never answered through the VIP")
	return 0
}

// BenchmarkKeepalivedFalseFailovers is BenchmarkFalseFailovers for
// keepalived: VRRP adverts (IP protocol 112) dropped at random on both
// nodes for HAFW_BENCH_SECONDS; a false failover is the backup entering
// MASTER state.
func BenchmarkKeepalivedFalseFailovers(b *testing.B) {
	testenv.RequireCommand(b, "keepalived")
	secs := 60
	if n, err := strconv.Atoi(os.Getenv("HAFW_BENCH_SECONDS")); err == nil && n > 0 {
		secs = n
	}
	for _, advert := range []string{"1", "0.1"} {
		for _, loss := range []int{20, 40} {
			b.Run(fmt.Sprintf("advert=%ss/loss=%d%%", advert, loss), func(b *testing.B) {
				for range b.N {
					sc := &scope{TB: b}
					l, master, backup := keepalivedPair(sc, advert)
					rule := fmt.Sprintf(`table inet loss {
  chain in { type filter hook input priority 0; ip protocol 112 numgen random mod 100 < %[1]d drop; }
  chain out { type filter hook output priority 0; ip protocol 112 numgen random mod 100 < %[1]d drop; }
}`, loss)
					for _, n := range []kaNode{master, backup} {
						cmd := exec.Command("ip", "netns", "exec", n.ns.Name, "nft", "-f", "-")
						cmd.Stdin = strings.NewReader(rule)
						if out, err := cmd.CombinedOutput(); err != nil {
							b.Fatalf("nft: %v: %s", err, out)
						}
					}
					before := strings.Count(backup.proc.Output(), "Entering MASTER STATE")
					pr := startGapProber(l, servicePort)
					time.Sleep(time.Duration(secs) * time.Second)
					gaps := pr.stop()
					logEpisodes(b, gaps)
					b.ReportMetric(float64(strings.Count(backup.proc.Output(), "Entering MASTER STATE")-before), "false-failovers")
					reportGaps(b, gaps)
					b.ReportMetric(0, "ns/op")
					sc.close()
				}
			})
		}
	}
}
