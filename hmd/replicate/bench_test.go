package replicate_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/instance"
	"github.com/hafw/hafw/hmd/replicate"
	"github.com/hafw/hafw/internal/benchkit"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
)

// The benchmarks run the standby in a network namespace of its own,
// reached over a veth pair from a second namespace where the active side
// dials, so that the numbers include a real (virtual) link.
//
//	go test -run XXX -bench . -benchtime 1x ./hmd/replicate/ -replicate.mib 1024
var benchMiB = flag.Int("replicate.mib", 64, "instance data set size in MiB for the initial sync and failback benchmarks")

type link struct {
	a, b *netnstest.NS
	ipB  netip.Addr
}

func newLink(b *testing.B) *link {
	l := &link{a: netnstest.New(b, "repa"), b: netnstest.New(b, "repb"), ipB: netip.MustParseAddr("10.237.0.2")}
	netnstest.Veth(l.a, "eth0", l.b, "eth0")
	l.a.AddAddr("eth0", netip.MustParsePrefix("10.237.0.1/24"))
	l.b.AddAddr("eth0", netip.MustParsePrefix("10.237.0.2/24"))
	return l
}

// standbyIn serves n's standby inside the link's namespace b (TLS pinned
// to active); stop ends it.
func (n *node) standbyIn(l *link, active *node) (addr string, stop func()) {
	var ln net.Listener
	l.b.MustDo(func() error {
		var err error
		ln, err = net.Listen("tcp", netip.AddrPortFrom(l.ipB, 0).String())
		return err
	})
	cfg, err := replicate.TLSConfig(n.id, active.id.Fingerprint, true)
	if err != nil {
		n.t.Fatal(err)
	}
	sb, err := replicate.NewStandby(replicate.StandbyOptions{Log: n.db, QuarantineDir: filepath.Join(n.dir, "quarantine"), Logger: quiet()})
	if err != nil {
		n.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sb.ServeListener(ctx, tls.NewListener(ln, cfg)) }()
	return ln.Addr().String(), func() { cancel(); <-done }
}

// activeVia ships n's log to addr, dialling from the link's namespace a.
func (n *node) activeVia(l *link, addr string, standby *node, mode replicate.Mode) (*replicate.Active, func()) {
	dial := func(ctx context.Context) (net.Conn, error) {
		var c net.Conn
		err := l.a.Do(func() error {
			var d net.Dialer
			var err error
			c, err = d.DialContext(ctx, "tcp", addr)
			return err
		})
		if err != nil {
			return nil, err
		}
		cfg, err := replicate.TLSConfig(n.id, standby.id.Fingerprint, false)
		if err != nil {
			c.Close()
			return nil, err
		}
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, err
		}
		return tc, nil
	}
	a, err := replicate.NewActive(replicate.ActiveOptions{Log: n.db, Mode: mode, Dial: dial, Retry: 20 * time.Millisecond, StallTimeout: 30 * time.Second, Logger: quiet()})
	if err != nil {
		n.t.Fatal(err)
	}
	n.db.SetReplicator(a)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	return a, func() { n.db.SetReplicator(nil); cancel(); <-done }
}

func waitUpLong(b *testing.B, a *replicate.Active) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Minute)
	for {
		st := a.Status()
		if st.State == replicate.StateUp && st.Lag == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("replication never came Up: %+v", st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func reportLatency(b *testing.B, samples []float64) {
	st := benchkit.Summarize(samples)
	b.ReportMetric(st.P50, "p50-ms")
	b.ReportMetric(st.P95, "p95-ms")
	b.ReportMetric(st.P99, "p99-ms")
}

// BenchmarkCommit: durable commit latency of one small transaction, local
// only versus replicated in maximum availability (acknowledged only once
// the standby behind the veth has committed it too).
func BenchmarkCommit(b *testing.B) {
	run := func(b *testing.B, db *instance.DB) {
		samples := make([]float64, 0, b.N)
		val := make([]byte, 256)
		b.ResetTimer()
		for i := range b.N {
			start := time.Now()
			if _, err := db.Update(context.Background(), func(tx *instance.Txn) error {
				return tx.Put(fmt.Appendf(nil, "bench/%d", i), val)
			}); err != nil {
				b.Fatal(err)
			}
			samples = append(samples, float64(time.Since(start).Microseconds())/1000)
		}
		b.StopTimer()
		reportLatency(b, samples)
	}
	b.Run("local", func(b *testing.B) {
		run(b, newNode(b, "local").db)
	})
	b.Run("maximum-availability", func(b *testing.B) {
		testenv.RequireRoot(b)
		l := newLink(b)
		p, s := newNode(b, "primary"), newNode(b, "secondary")
		addr, stopS := s.standbyIn(l, p)
		defer stopS()
		a, stopA := p.activeVia(l, addr, s, replicate.MaxAvailability)
		defer stopA()
		waitUpLong(b, a)
		run(b, p.db)
		if a.Status().State != replicate.StateUp {
			b.Fatalf("replication fell %s during the run: %s", a.Status().State, a.Status().Reason)
		}
	})
}

// fill writes about mib MiB of incompressible values into db.
func fill(b *testing.B, db *instance.DB, mib int) {
	val := make([]byte, 64<<10)
	for i := 0; i < mib*16; i += 16 {
		if _, err := db.Update(context.Background(), func(tx *instance.Txn) error {
			for j := range 16 {
				rand.Read(val)
				if err := tx.Put(fmt.Appendf(nil, "blob/%08d", i+j), val); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

func fileMB(b *testing.B, path string) float64 {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return float64(fi.Size()) / 1e6
}

// BenchmarkInitialSync: a full initial sync of the instance database
// (-replicate.mib of data; the file is about twice that, as the log holds
// the entries too) over the veth, next to rsync of the same file over the
// same link (rsync daemon in the standby's namespace, --whole-file, and
// --fsync because the replica is only useful once durable, as ours is).
func BenchmarkInitialSync(b *testing.B) {
	testenv.RequireRoot(b)
	testenv.RequireCommand(b, "rsync")
	l := newLink(b)
	p := newNode(b, "primary")
	fill(b, p.db, *benchMiB)
	dbFile := filepath.Join(p.dir, "instance.db")
	mb := fileMB(b, dbFile)
	var ours, theirs []float64
	b.ResetTimer()
	for i := range b.N {
		s := newNode(b, fmt.Sprintf("secondary%d", i))
		addr, stopS := s.standbyIn(l, p)
		start := time.Now()
		a, stopA := p.activeVia(l, addr, s, replicate.MaxAvailability)
		waitUpLong(b, a)
		ours = append(ours, mb/time.Since(start).Seconds())
		stopA()
		stopS()
		theirs = append(theirs, rsyncMBps(b, l, dbFile, mb))
	}
	b.StopTimer()
	b.ReportMetric(mb, "MB")
	b.ReportMetric(benchkit.Summarize(ours).P50, "hafw-MB/s")
	b.ReportMetric(benchkit.Summarize(theirs).P50, "rsync-MB/s")
}

// rsyncMBps copies file with rsync from namespace a to an rsync daemon in
// namespace b and returns the throughput.
func rsyncMBps(b *testing.B, l *link, file string, mb float64) float64 {
	dir := b.TempDir()
	dest := filepath.Join(dir, "dest")
	os.Mkdir(dest, 0o755)
	conf := filepath.Join(dir, "rsyncd.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("use chroot = no\nuid = root\ngid = root\n[m]\npath = %s\nread only = no\n", dest)), 0o644)
	daemon := l.b.Start("rsync", "--daemon", "--no-detach", "--config", conf, "--address", l.ipB.String(), "--port", "8730")
	defer daemon.Signal(9)
	var lastErr error
	for range 100 {
		start := time.Now()
		out, err := exec.Command("ip", "netns", "exec", l.a.Name, "rsync", "--whole-file", "--fsync", file, fmt.Sprintf("rsync://%s:8730/m/", l.ipB)).CombinedOutput()
		if err == nil {
			return mb / time.Since(start).Seconds()
		}
		lastErr = fmt.Errorf("%v: %s", err, out)
		time.Sleep(50 * time.Millisecond) // the daemon is still starting
	}
	b.Fatalf("rsync: %v", lastErr)
	return 0
}

// BenchmarkFailback: the time to bring a returning node up to date after
// 10000 changes (catch-up from the fork point) versus a full copy of the
// same database.
func BenchmarkFailback(b *testing.B) {
	testenv.RequireRoot(b)
	l := newLink(b)
	const changes = 10000
	var catchUp, full []float64
	for range b.N {
		p, s := newNode(b, "primary"), newNode(b, "secondary")
		fill(b, p.db, *benchMiB)
		addr, stopS := s.standbyIn(l, p)
		a, stopA := p.activeVia(l, addr, s, replicate.MaxAvailability)
		waitUpLong(b, a)
		stopA()
		stopS()
		for i := range changes {
			if _, err := p.db.Update(context.Background(), func(tx *instance.Txn) error {
				return tx.Put(fmt.Appendf(nil, "change/%d", i), []byte("after the failover"))
			}); err != nil {
				b.Fatal(err)
			}
		}
		addr, stopS = s.standbyIn(l, p)
		start := time.Now()
		a, stopA = p.activeVia(l, addr, s, replicate.MaxAvailability)
		waitUpLong(b, a)
		catchUp = append(catchUp, float64(time.Since(start).Milliseconds()))
		if st := a.Status(); st.SnapshotBytes != 0 || st.EntriesShipped != changes {
			b.Fatalf("catch-up shipped %d entries and %d snapshot bytes, want %d and 0", st.EntriesShipped, st.SnapshotBytes, changes)
		}
		stopA()
		stopS()

		fresh := newNode(b, "fresh")
		addr, stopS = fresh.standbyIn(l, p)
		start = time.Now()
		a, stopA = p.activeVia(l, addr, fresh, replicate.MaxAvailability)
		waitUpLong(b, a)
		full = append(full, float64(time.Since(start).Milliseconds()))
		stopA()
		stopS()
	}
	b.ReportMetric(benchkit.Summarize(catchUp).P50, "catchup-10k-ms")
	b.ReportMetric(benchkit.Summarize(full).P50, "fullcopy-ms")
}
