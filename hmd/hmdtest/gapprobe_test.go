package hmdtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/hmdtest/gapprobe/gapreport"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
)

// The benchmarks' client and service are gapprobe processes (package
// ./gapprobe) of their own in the namespaces, not goroutines of the test:
// the test process's scheduling and garbage collector once showed up as
// client gaps of over 100 ms while the VIP never moved (docs/hmd.md).
// binaryPath builds them with hmd.

// instrumentPriority is the SCHED_FIFO priority of the gapprobe
// processes: above every normal process (hmd included), so that other
// work on a shared machine delays the instruments, not what they measure,
// as little as possible. The kernel's RT throttling still keeps 5% of
// each second for the rest.
const instrumentPriority = "10"

// fifoAllowed reports whether this machine lets us run a process under
// SCHED_FIFO (a container without CAP_SYS_NICE or without a real-time
// budget does not).
var fifoAllowed = sync.OnceValue(func() error {
	if out, err := exec.Command("chrt", "-f", instrumentPriority, "true").CombinedOutput(); err != nil {
		return fmt.Errorf("chrt -f %s: %v: %s", instrumentPriority, err, strings.TrimSpace(string(out)))
	}
	return nil
})

// startInstrument runs gapprobe with args in ns under SCHED_FIFO, or at
// normal priority (logged) where the machine does not allow that: the
// figures are then more exposed to the machine's other load.
func startInstrument(t testing.TB, ns *netnstest.NS, args ...string) *netnstest.Proc {
	t.Helper()
	testenv.RequireCommand(t, "chrt")
	if err := fifoAllowed(); err != nil {
		t.Logf("gapprobe runs at normal priority: %v", err)
		return ns.Start(binaryPath(t, "gapprobe"), args...)
	}
	return ns.Start("chrt", append([]string{"-f", instrumentPriority, binaryPath(t, "gapprobe")}, args...)...)
}

// serveProbes answers the client's UDP probes on port in ns with name
// (on every address, so also on the VIP while ns holds it).
func serveProbes(t testing.TB, ns *netnstest.NS, name string, port int) {
	t.Helper()
	proc := startInstrument(t, ns, "serve", "-name", name, "-port", strconv.Itoa(port))
	netnstest.Eventually(t, 10*time.Second, name+"'s probe server to listen", func() bool {
		select {
		case <-proc.Exited():
			t.Fatalf("probe server %s exited: %v\n%s", name, proc.Err(), proc.Output())
		default:
		}
		return strings.Contains(proc.Output(), "serving ")
	})
}

// gapProber is a gapprobe client asking the VIP every 5 ms from the
// client namespace.
type gapProber struct {
	t    testing.TB
	proc *netnstest.Proc
}

// probeThreshold is the wait above which the prober reports an episode
// (well below the 100 ms bound on the client's gap through a heal).
const probeThreshold = 20 * time.Millisecond

func startGapProber(l *lan, port int) *gapProber {
	l.t.Helper()
	target := fmt.Sprintf("%s:%d", l.addr(10), port)
	return &gapProber{t: l.t, proc: startInstrument(l.t, l.client, "probe", "-target", target, "-every", "5ms", "-threshold", probeThreshold.String())}
}

// firstAnswer is when (kernel receive time) name first answered.
func (g *gapProber) firstAnswer(name string) (time.Time, bool) {
	for _, l := range g.lines("first") {
		if l.name == name {
			return l.at, true
		}
	}
	return time.Time{}, false
}

// proberLine is a "KIND NAME UNIXNANO" line of the prober's output.
type proberLine struct {
	name string
	at   time.Time
}

// lines returns the prober's "first" or "from" lines so far, in order.
func (g *gapProber) lines(kind string) []proberLine {
	var out []proberLine
	sc := bufio.NewScanner(strings.NewReader(g.proc.Output()))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == kind {
			ns, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				g.t.Fatalf("prober output %q: %v", sc.Text(), err)
			}
			out = append(out, proberLine{name: f[1], at: time.Unix(0, ns)})
		}
	}
	return out
}

// stop ends the prober and returns what it measured.
func (g *gapProber) stop() gapreport.Summary {
	g.t.Helper()
	if err := g.proc.Signal(syscall.SIGTERM); err != nil {
		g.t.Fatalf("stop the prober: %v", err)
	}
	if err := g.proc.Err(); err != nil {
		g.t.Fatalf("prober: %v\n%s", err, g.proc.Output())
	}
	// The summary line holds the episodes too; the episode lines before
	// it are for a human reading the output as it comes.
	var s gapreport.Summary
	sc := bufio.NewScanner(strings.NewReader(g.proc.Output()))
	for sc.Scan() {
		line := sc.Bytes()
		var kind struct{ Kind string }
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		if err := json.Unmarshal(line, &kind); err != nil {
			g.t.Fatalf("prober output %q: %v", line, err)
		}
		if kind.Kind != "summary" {
			continue
		}
		if err := json.Unmarshal(line, &s); err != nil {
			g.t.Fatalf("prober output %q: %v", line, err)
		}
	}
	if s.Sent == 0 {
		g.t.Fatalf("the prober wrote no summary:\n%s", g.proc.Output())
	}
	return s
}

// logEpisodes writes the episodes with their wall-clock times, to be laid
// next to hmd's log lines.
func logEpisodes(t testing.TB, s gapreport.Summary) {
	t.Helper()
	for _, e := range s.Episodes {
		t.Logf("client waited %v from %s (prober stalled: %v)", e.Wait.Round(100*time.Microsecond), e.From.UTC().Format("15:04:05.000"), e.Stalled)
	}
	t.Logf("prober: %d sent, %d answered %v, longest wait %v (%v while the prober kept its schedule), longest send gap %v, rtt p99 %v",
		s.Sent, s.Answered, s.ByName, s.MaxWait, s.MaxWaitUnstalled, s.MaxSendGap, s.RTTP99)
}
