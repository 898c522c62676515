package hmdtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/events"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/hmd/instance"
	"github.com/hafw/hafw/internal/testenv"
)

// The replication tests run two real hmd processes with the reference
// service (cmd/tracker) as their instance application, and a writer in the
// client namespace that stores numbered elements through the VIP.

const trackerPort = 8080

// replicatedPair starts a 3355 primary (mse1, VIP .10) and secondary
// (mse2) on a new LAN, both running the tracker, pairs them (automatic
// failover, manual failback, 500 ms wait) and waits until both are active
// and data replication is Up.
func replicatedPair(t *testing.T, subnet string) (l *lan, p, s *node) {
	l, p, s = newPair(t, subnet, func(_ *lan, p, s *node) {
		p.withTracker()
		s.withTracker()
	})
	waitTrue(t, 15*time.Second, "data replication Up on the primary", func() bool { return p.replication() == "Up" })
	return l, p, s
}

// withTracker restarts n's hmd with the tracker as its application.
func (n *node) withTracker(extra ...string) {
	n.t.Helper()
	n.withApps(fmt.Sprintf("%s --listen :%d\n", binaryPath(n.t, "tracker"), trackerPort), extra...)
}

// withApps restarts n's hmd with apps as its applications file.
func (n *node) withApps(file string, extra ...string) {
	n.t.Helper()
	apps := filepath.Join(n.dir, "apps")
	if err := os.WriteFile(apps, []byte(file), 0o644); err != nil {
		n.t.Fatal(err)
	}
	n.proc.Signal(syscall.SIGTERM)
	<-n.proc.Exited()
	n.args = append(n.args, append([]string{"--apps-file", apps}, extra...)...)
	n.start()
}

// replication is the data replication column of n's first peer.
func (n *node) replication() string {
	st := n.status()
	if len(st.Peers) == 0 {
		return ""
	}
	return st.Peers[0].DataReplication
}

// writer stores element w<i> with note i through the VIP, one at a time,
// and remembers which writes were acknowledged (HTTP 200).
type writer struct {
	l   *lan
	vip netip.Addr

	mu    sync.Mutex
	next  int
	acked map[int]bool
	tried map[int]bool
	// lastAck is when the latest write was acknowledged.
	lastAck time.Time
}

func newWriter(l *lan, vip netip.Addr) *writer {
	return &writer{l: l, vip: vip, acked: map[int]bool{}, tried: map[int]bool{}}
}

// request does one HTTP request from the client namespace (a fresh
// connection each time, as a client reconnecting after a failover would).
func (w *writer) request(method, path, body string, timeout time.Duration) (int, string, error) {
	var (
		code int
		data []byte
	)
	err := w.l.client.Do(func() error {
		c, err := net.DialTimeout("tcp4", netip.AddrPortFrom(w.vip, trackerPort).String(), timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(timeout))
		req, _ := http.NewRequest(method, "http://tracker"+path, strings.NewReader(body))
		req.Close = true
		if err := req.Write(c); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		code = resp.StatusCode
		data, err = io.ReadAll(resp.Body)
		return err
	})
	return code, string(data), err
}

// writeTimeout bounds one write (connect, request, answer). A write that
// must succeed gets the time a busy machine needs (two CPU hogs beside the
// suite), far below anything that would hide an outage: the tests that
// measure an outage do it with their own clocks.
const writeTimeout = 5 * time.Second

// write issues the next numbered write; nil means it was acknowledged.
func (w *writer) write() error {
	w.mu.Lock()
	i := w.next
	w.next++
	w.tried[i] = true
	w.mu.Unlock()
	code, _, err := w.request("PUT", fmt.Sprintf("/v1/elements/w%d", i), fmt.Sprintf(`{"floor":"1F","note":"%d"}`, i), writeTimeout)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("write w%d: HTTP status %d", i, code)
	}
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.acked[i] = true
	w.lastAck = time.Now()
	w.mu.Unlock()
	return nil
}

// run writes until stop is closed.
func (w *writer) run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		if w.write() != nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// waitServing waits until the service answers a read through the VIP.
func (w *writer) waitServing(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, _, err := w.request("GET", "/v1/elements", "", writeTimeout)
		if err == nil && code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service never answered on the VIP within %s: HTTP %d, %v", timeout, code, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (w *writer) ackedCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// verify reads every element through the VIP: each acknowledged write must
// be there with its own note, and nothing may be there that was never
// issued.
func (w *writer) verify(t *testing.T) int {
	t.Helper()
	var code int
	var body string
	var err error
	for range 50 {
		if code, body, err = w.request("GET", "/v1/elements", "", 5*time.Second); err == nil && code == 200 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || code != 200 {
		t.Fatalf("list elements through the VIP: %d %v", code, err)
	}
	re := regexp.MustCompile(`"id":"w(\d+)"[^}]*"note":"(\d+)"`)
	seen := map[int]int{}
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		id, _ := strconv.Atoi(m[1])
		note, _ := strconv.Atoi(m[2])
		if id != note {
			t.Errorf("element w%d carries note %d", id, note)
		}
		seen[id]++
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range w.acked {
		if seen[i] != 1 {
			t.Errorf("acknowledged write %d present %d times on the serving node", i, seen[i])
		}
	}
	for i, n := range seen {
		if !w.tried[i] || n != 1 {
			t.Errorf("write %d present %d times but tried=%v", i, n, w.tried[i])
		}
	}
	return len(seen)
}

// digest opens a stopped node's instance database of slot and returns its
// data digest and last sequence number.
func (n *node) digest(slot int) (string, uint64) {
	n.t.Helper()
	db, err := instance.Open(filepath.Join(n.dir, "instance", strconv.Itoa(slot), "instance.db"), instance.Options{})
	if err != nil {
		n.t.Fatalf("%s: %v", n.name, err)
	}
	defer db.Close()
	d, err := db.Digest()
	if err != nil {
		n.t.Fatal(err)
	}
	last, _, _, _ := db.Position()
	return d, last
}

var catchUpRE = regexp.MustCompile(`replication catch-up.* fork=(\d+) last=(\d+)`)

// TestReplicationFailoverAndFailback: a writer stores numbered elements
// through the VIP while the primary is killed (kill -9, cable pulled) at a
// random moment; the secondary serves every acknowledged write. After N
// more writes on the secondary, failback moves exactly those N entries to
// the recovered primary (no full copy), and both databases end identical.
func TestReplicationFailoverAndFailback(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l, p, s := replicatedPair(t, "10.236.0")
	vip := l.addr(10)

	w := newWriter(l, vip)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); w.run(stop) }()
	// Kill at a random moment while writes flow.
	time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
	before := w.ackedCount()
	p.kill(l)
	t.Logf("primary killed after %d acknowledged writes", before)
	s.waitState(0, "FAILOVER_ACTIVE", 10*time.Second)
	waitTrue(t, 20*time.Second, "writes acknowledged by the secondary", func() bool { return w.ackedCount() > before+20 })
	close(stop)
	<-done
	total := w.verify(t)
	t.Logf("after failover: %d acknowledged, %d present on the secondary", w.ackedCount(), total)

	// The primary returns (TERMINATED); N more writes on the secondary.
	l.br.SetPort(p.port, true)
	p.start()
	p.waitState(0, "TERMINATED", 10*time.Second)
	const n = 57
	for range n {
		if err := w.write(); err != nil {
			t.Fatalf("a write on the serving secondary failed: %v", err)
		}
	}
	waitTrue(t, 10*time.Second, "the secondary to hear the primary", func() bool { return s.status().Peers[0].Heartbeat == "Up" })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.api().Failback(ctx, api.PeerRequest{Force: true}); err != nil {
		t.Fatalf("failback: %v", err)
	}
	p.waitState(0, "PRIMARY_ACTIVE", 20*time.Second)
	s.waitState(0, "SECONDARY_ACTIVE", 10*time.Second)
	if got := w.verify(t); got < total+n {
		t.Errorf("after failback %d elements, want at least %d", got, total+n)
	}

	// Stop both and compare the databases.
	waitTrue(t, 10*time.Second, "replication Up after failback", func() bool { return p.replication() == "Up" })
	slot := p.status().Peers[0].InstanceDBPort - 1621
	pOut, sOut := p.proc.Output(), s.proc.Output()
	for _, x := range []*node{p, s} {
		x.proc.Signal(syscall.SIGTERM)
		<-x.proc.Exited()
	}
	dp, _ := p.digest(slot)
	ds, sLast := s.digest(slot)
	if dp != ds {
		t.Fatalf("databases differ after failback: primary %s, secondary %s", dp, ds)
	}

	// The returning primary received only what the secondary wrote since
	// the failover: the entries after the fork point, counted as applied,
	// and no full copy.
	m := catchUpRE.FindStringSubmatch(sOut)
	if m == nil {
		t.Fatalf("the secondary never caught the primary up:\n%s", sOut)
	}
	fork, _ := strconv.ParseUint(m[1], 10, 64)
	applied := uint64(0)
	for _, a := range appliedRE.FindAllStringSubmatch(pOut, -1) {
		k, _ := strconv.ParseUint(a[1], 10, 64)
		applied += k
	}
	if strings.Contains(pOut, "full copy installed") {
		t.Errorf("failback made a full copy")
	}
	if applied != sLast-fork || sLast-fork < n {
		t.Errorf("the primary applied %d entries; the secondary wrote %d since the fork point %d (at least %d)", applied, sLast-fork, fork, n)
	}
	t.Logf("failback: fork point %d, secondary wrote %d entries since, primary applied %d", fork, sLast-fork, applied)
}

var appliedRE = regexp.MustCompile(`applied replicated entries.* count=(\d+)`)

func waitTrue(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeCode issues the next numbered write and returns its HTTP status (0
// when the request failed, with the reason in err) and how long it took.
func (w *writer) writeCode() (code int, took time.Duration, err error) {
	w.mu.Lock()
	i := w.next
	w.next++
	w.tried[i] = true
	w.mu.Unlock()
	start := time.Now()
	code, _, err = w.request("PUT", fmt.Sprintf("/v1/elements/w%d", i), fmt.Sprintf(`{"floor":"1F","note":"%d"}`, i), 15*time.Second)
	if err != nil {
		code = 0
	}
	if code == http.StatusOK {
		w.mu.Lock()
		w.acked[i] = true
		w.mu.Unlock()
	}
	return code, time.Since(start), err
}

// TestReplicationPartitionPerMode cuts only the replication link (an
// nftables drop of the replication port on the secondary; heartbeats keep
// flowing, so no failover) under each protection mode and checks the
// documented outcome, then heals it: replication resyncs to Up and both
// databases end identical.
func TestReplicationPartitionPerMode(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	for i, mode := range []string{"maximum-availability", "maximum-protection", "maximum-performance"} {
		t.Run(mode, func(t *testing.T) {
			l := newLAN(t, fmt.Sprintf("10.%d.0", 238+i))
			p := l.addNode("mse1", 2, config.RolePrimary, "3355", 10)
			s := l.addNode("mse2", 3, config.RoleSecondary, "3355", 0)
			p.withTracker("--protection-mode", mode)
			s.withTracker("--protection-mode", mode)
			pair(t, p, s, "manual", "manual", time.Second)
			waitTrue(t, 15*time.Second, "data replication Up", func() bool { return p.replication() == "Up" })
			w := newWriter(l, l.addr(10))
			// The primary reports PRIMARY_ACTIVE and replication Up while
			// its application may still be starting (the ready handshake);
			// the writes below begin once the service answers on the VIP.
			w.waitServing(t, 15*time.Second)
			for range 5 {
				if code, _, err := w.writeCode(); code != http.StatusOK {
					t.Fatalf("write before the partition: %d %v", code, err)
				}
			}
			port := strconv.Itoa(p.status().Peers[0].InstanceDBPort - 1621 + instance.BasePort)
			nft := func(script string) {
				cmd := exec.Command("ip", "netns", "exec", s.ns.Name, "nft", "-f", "-")
				cmd.Stdin = strings.NewReader(script)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("nft: %v: %s", err, out)
				}
			}
			nft("table inet repcut {\n chain cut {\n type filter hook input priority 0; policy accept;\n tcp dport " + port + " drop\n }\n}\n")

			switch mode {
			case "maximum-availability":
				// The first write waits for the standby at most the ack
				// timeout, then replication is Down and writes go on.
				code, took, err := w.writeCode()
				if code != http.StatusOK || took > 5*time.Second {
					t.Fatalf("write during the partition: %d %v after %s", code, err, took)
				}
				for range 5 {
					if code, took, err := w.writeCode(); code != http.StatusOK || took > time.Second {
						t.Fatalf("write with replication Down: %d %v after %s", code, err, took)
					}
				}
				if r := p.replication(); r != "Down" {
					t.Fatalf("data replication %q during the partition, want Down", r)
				}
			case "maximum-protection":
				// Bounded wait, then a clear refusal; later writes are
				// refused without being written.
				code, took, err := w.writeCode()
				if code != http.StatusServiceUnavailable || took > 12*time.Second {
					t.Fatalf("write during the partition: %d %v after %s, want 503 within the bound", code, err, took)
				}
				code, took, err = w.writeCode()
				if code != http.StatusServiceUnavailable || took > 12*time.Second {
					t.Fatalf("second write during the partition: %d %v after %s, want 503", code, err, took)
				}
			case "maximum-performance":
				for range 5 {
					if code, took, err := w.writeCode(); code != http.StatusOK || took > time.Second {
						t.Fatalf("write during the partition: %d %v after %s", code, err, took)
					}
				}
				rep := p.status().Peers[0].Replication
				if rep == nil || rep.Lag == 0 {
					t.Fatalf("no lag reported during the partition: %+v", rep)
				}
				t.Logf("lag during the partition: %d entries", rep.Lag)
			}

			nft("delete table inet repcut")
			waitTrue(t, 30*time.Second, "data replication Up after healing", func() bool {
				r := p.status().Peers[0].Replication
				return r != nil && r.State == "Up" && r.Lag == 0
			})
			if code, _, err := w.writeCode(); code != http.StatusOK {
				t.Fatalf("write after healing: %d %v", code, err)
			}
			w.verify(t)
			slot := p.status().Peers[0].InstanceDBPort - 1621
			for _, x := range []*node{p, s} {
				x.proc.Signal(syscall.SIGTERM)
				<-x.proc.Exited()
			}
			dp, _ := p.digest(slot)
			ds, _ := s.digest(slot)
			if dp != ds {
				t.Fatalf("databases differ after healing")
			}
		})
	}
}

// TestReplicationKillMidInitialSync: the secondary's database is wiped and
// it comes back, so the primary starts a full copy of about 200 MB; the
// primary is killed while the copy runs. The secondary must not serve the
// incomplete database (it would silently lack acknowledged writes): hmd
// records that the instance could not be started and the takeover stays
// FAILOVER_INVOKED, visible to the operator.
func TestReplicationKillMidInitialSync(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l, p, s := replicatedPair(t, "10.241.0")
	w := newWriter(l, l.addr(10))
	for range 10 {
		if err := w.write(); err != nil {
			t.Fatal(err)
		}
	}
	bulk := instance.NewClient(filepath.Join(p.dir, "instance.sock"))
	val := make([]byte, 512<<10)
	for i := range 200 {
		for j := range val {
			val[j] = byte(rand.Uint32())
		}
		if _, err := bulk.Txn(context.Background(), instance.TxnOp{Op: "put", Key: fmt.Sprintf("bulk/%d", i), Value: val}); err != nil {
			t.Fatalf("bulk write %d: %v", i, err)
		}
	}

	s.proc.Signal(syscall.SIGTERM)
	<-s.proc.Exited()
	if err := os.RemoveAll(filepath.Join(s.dir, "instance")); err != nil {
		t.Fatal(err)
	}
	s.start()
	// The shipping side's events log (the API behind hactl events) shows
	// the full copy under way with its progress.
	var progress string
	waitTrue(t, 20*time.Second, "the full copy under way, with its progress in the events log and an estimate in hactl status", func() bool {
		r := p.status().Peers[0].Replication
		if r == nil || r.State != "Setting up" || r.Percent < 25 || r.Percent >= 90 {
			return false
		}
		if progress == "" {
			// hactl status shows the progress with an estimate.
			out, _ := p.hactl("status")
			if i := strings.Index(out, "Synchronization"); i >= 0 && strings.Contains(out[i:], " left\n") {
				progress = out[i : i+strings.Index(out[i:], "\n")]
				t.Logf("hactl status: %s", progress)
			}
		}
		evs, err := p.api().Events(context.Background(), "", 0)
		return progress != "" && err == nil && slices.ContainsFunc(evs, func(e events.Event) bool {
			return e.Description == ha.MsgSyncInProgress && strings.HasSuffix(e.Remarks, "% complete)") && e.GeneratedBy == "Primary"
		})
	})
	if progress == "" {
		t.Error("hactl status never showed the copy's progress with an estimate while it ran")
	}
	p.kill(l)
	// The secondary's state machine knows its copy is incomplete: it
	// refuses the takeover with an event and stands by, instead of
	// claiming the VIP and hanging in FAILOVER_INVOKED.
	waitTrue(t, 10*time.Second, "the takeover refusal in hactl events", func() bool {
		evs, _ := s.hactl("events", "--limit", "0")
		return strings.Contains(evs, "Takeover refused") && strings.Contains(evs, "no complete copy of the instance data")
	})
	if code, _, err := w.request("GET", "/v1/elements", "", time.Second); err == nil && code == http.StatusOK {
		t.Fatalf("the secondary serves an incomplete database (HTTP %d)", code)
	}
	st := s.status()
	if ps := st.Peers[0]; ps.State != "SECONDARY_ACTIVE" || s.hasAddr(l.addr(10)) {
		t.Fatalf("secondary in %s (VIP held: %v) with an incomplete database; want SECONDARY_ACTIVE without the VIP", ps.State, s.hasAddr(l.addr(10)))
	}
}

// TestReplicationKillMidFailback: the secondary (serving since a failover)
// is killed at a random moment right after a failback was asked for, with
// the writer running. The primary must end up serving every acknowledged
// write.
func TestReplicationKillMidFailback(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l, p, s := replicatedPair(t, "10.242.0")
	w := newWriter(l, l.addr(10))
	for range 20 {
		w.write()
	}
	p.kill(l)
	s.waitState(0, "FAILOVER_ACTIVE", 10*time.Second)
	for range 20 {
		w.write()
	}
	l.br.SetPort(p.port, true)
	p.start()
	p.waitState(0, "TERMINATED", 10*time.Second)
	waitTrue(t, 15*time.Second, "copy-back replication Up on the secondary", func() bool { return s.replication() == "Up" })

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); w.run(stop) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.api().Failback(ctx, api.PeerRequest{Force: true}); err != nil {
		t.Fatalf("failback: %v", err)
	}
	time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
	s.kill(l)
	t.Logf("secondary killed mid-failback; primary was %s", field(p.gethainfo(), "Current state"))
	waitTrue(t, 20*time.Second, "the primary to serve", func() bool {
		code, _, err := w.request("GET", "/v1/elements/w0", "", 300*time.Millisecond)
		return err == nil && code == http.StatusOK
	})
	time.Sleep(500 * time.Millisecond)
	close(stop)
	<-done
	got := w.verify(t)
	t.Logf("primary serves %d elements, %d acknowledged; state %v", got, w.ackedCount(), field(p.gethainfo(), "Current state"))
}
