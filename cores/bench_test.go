package cores

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hafw/hafw/cores/plan"
)

// BenchmarkFailoverRequeue measures, on a 3-member cluster with three core
// processes, the time from kill -9 of a core holding N tasks to the lease
// expiring (detect-s, set by the TTL) and from there to all N tasks
// re-queued on the survivors (requeue-s). Run with -benchtime=1x.
func BenchmarkFailoverRequeue(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			for range b.N {
				detect, requeue := failoverOnce(b, n)
				b.ReportMetric(detect.Seconds(), "detect-s")
				b.ReportMetric(requeue.Seconds(), "requeue-s")
			}
		})
	}
}

func failoverOnce(b *testing.B, n int) (detect, requeue time.Duration) {
	b.StopTimer()
	c := startCluster(b)
	p := "/bench/"
	cli := c.client(b)
	st := NewStore(cli, p)
	ctx := context.Background()
	core1 := c.startCore(b, p, 1, plan.RoleDevice)
	survivors := []*proc{c.startCore(b, p, 2, plan.RoleDevice), c.startCore(b, p, 3, plan.RoleDevice)}
	waitAlive(b, st, 1, 2, 3)
	later := time.Now().Add(time.Hour)
	ts := make([]plan.Task, n)
	for i := range ts {
		ts[i] = plan.Task{ID: fmt.Sprintf("t%06d", i), Command: []string{"true"}, Core: 1, Status: plan.Pending, Schedule: later}
	}
	if err := st.AddTasks(ctx, ts...); err != nil {
		b.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := cli.Watch(wctx, p+"meta/", clientv3.WithPrefix())
	b.StartTimer()
	killed := time.Now()
	core1.kill()
	var expired time.Time
	procs := append(slices.Clone(c.members), survivors...)
	var cpuAtExpiry []time.Duration
	for wr := range wch {
		for _, ev := range wr.Events {
			k := string(ev.Kv.Key)
			switch {
			case ev.Type == clientv3.EventTypeDelete && strings.HasSuffix(k, "/alive/1"):
				expired = time.Now()
				cpuAtExpiry = cpuTimes(procs)
			case ev.Type == clientv3.EventTypePut && strings.HasSuffix(k, "/handled/1"):
				// Timed at the event: the checks below read every task,
				// which is not part of the re-queue.
				requeued := time.Since(expired)
				b.StopTimer()
				cpu := cpuTimes(procs)
				var total time.Duration
				for i := range cpu {
					cpu[i] -= cpuAtExpiry[i]
					total += cpu[i]
				}
				b.Logf("CPU during re-queue: members %v %v %v, cores 2 and 3 %v %v, total %v", cpu[0], cpu[1], cpu[2], cpu[3], cpu[4], total)
				b.ReportMetric(total.Seconds(), "cpu-s")
				all, err := st.Tasks(ctx, plan.Filter{})
				if err != nil {
					b.Fatal(err)
				}
				left := 0
				for _, t := range all {
					if t.Core == 1 {
						left++
					}
				}
				if len(all) != n || left != 0 {
					b.Fatalf("%d tasks, %d of them left on core 1; want %d, none on core 1", len(all), left, n)
				}
				for _, s := range survivors {
					log, _ := os.ReadFile(s.log.Name())
					for _, line := range strings.Split(string(log), "\n") {
						if strings.Contains(line, "failed over core") {
							b.Log(line)
						}
					}
				}
				return expired.Sub(killed), requeued
			}
		}
	}
	b.Fatal("watch ended before the failover finished")
	return 0, 0
}

// cpuTimes is the user+system CPU time each process has used so far, from
// /proc (clock ticks of 10 ms): where a re-queue's time goes is mostly CPU
// shared by the members and cores on one machine.
func cpuTimes(ps []*proc) []time.Duration {
	out := make([]time.Duration, len(ps))
	for i, p := range ps {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
		if err != nil {
			continue
		}
		// Fields after the command name (which may contain spaces): state is
		// field 3, utime and stime are fields 14 and 15.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		out[i] = time.Duration(ut+st) * 10 * time.Millisecond
	}
	return out
}

// noopRunner finishes every task at once, so that claiming is measured.
type noopRunner struct{}

func (noopRunner) Run(context.Context, plan.Task) (string, error) { return "", nil }

// BenchmarkClaimThroughput: three in-process cores, each with its own
// client and lease, claim and finish N due tasks (claim transaction +
// result transaction each); reports tasks per second.
func BenchmarkClaimThroughput(b *testing.B) {
	const n = 3000
	b.StopTimer()
	c := startCluster(b)
	for i := range b.N {
		p := fmt.Sprintf("/claim%d/", i)
		st := NewStore(c.client(b), p)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for num := 1; num <= 3; num++ {
			cli := c.client(b, c.endpoints[num-1])
			wg.Go(func() {
				_ = Run(ctx, cli, Config{Num: num, Prefix: p, TTL: testTTL, Workers: 16, Runner: noopRunner{}, Drain: time.Second, Log: slog.New(slog.DiscardHandler)})
			})
		}
		waitAlive(b, st, 1, 2, 3)
		ts := make([]plan.Task, n)
		for j := range ts {
			ts[j] = plan.Task{ID: fmt.Sprintf("c%05d", j), Command: []string{"noop"}, Core: j%3 + 1, Status: plan.Pending}
		}
		b.StartTimer()
		start := time.Now()
		if err := st.AddTasks(context.Background(), ts...); err != nil {
			b.Fatal(err)
		}
		waitFor(b, 5*time.Minute, "all tasks succeeded", func() (bool, string) {
			done, err := st.Tasks(context.Background(), plan.Filter{Status: plan.Succeeded})
			return err == nil && len(done) == n, fmt.Sprintf("%d done", len(done))
		})
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(n)/elapsed.Seconds(), "tasks/s")
		cancel()
		wg.Wait()
	}
}
