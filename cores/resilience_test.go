package cores

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hafw/hafw/cores/plan"
)

// leader returns the index of the member that leads the cluster now.
func (c *cluster) leader(t *testing.T, cli *clientv3.Client) int {
	t.Helper()
	for i, ep := range c.endpoints {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := cli.Status(ctx, ep)
		cancel()
		if err == nil && st.Leader == st.Header.MemberId {
			return i
		}
	}
	t.Fatal("no etcd member reports itself leader")
	return -1
}

// TestEtcdLeaderKilledMidFailover kills -9 the etcd leader right when the
// failover of a dead core starts, while the survivors are already running
// the moved tasks: every task ends up moved once and run exactly once.
func TestEtcdLeaderKilledMidFailover(t *testing.T) {
	c := newCluster(t)
	p := prefixFor(t)
	cli := c.client(t)
	st := NewStore(cli, p)
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	core1 := c.startCore(t, p, 1, plan.RoleDevice)
	survivors := []*proc{c.startCore(t, p, 2, plan.RoleDevice), c.startCore(t, p, 3, plan.RoleDevice)}
	waitAlive(t, st, 1, 2, 3)
	core1.kill()
	// Core 1's tasks are added after it died so that only the failover
	// can make them run: 300 due now, 3000 scheduled later.
	const due, later = 300, 3000
	ctx := context.Background()
	var ts []plan.Task
	for i := range due + later {
		tk := shTask(dir, fmt.Sprintf("t%05d", i), 1, 0, plan.Pending, 0)
		if i >= due {
			tk.Schedule = time.Now().Add(time.Hour)
		}
		ts = append(ts, tk)
	}
	if err := st.AddTasks(ctx, ts...); err != nil {
		t.Fatal(err)
	}
	leader := c.leader(t, cli)
	wch := cli.Watch(ctx, st.eventKey(""), clientv3.WithPrefix())
	select {
	case <-wch:
	case <-time.After(30 * time.Second):
		t.Fatal("failover of core 1 did not start")
	}
	c.members[leader].kill()
	t.Logf("killed etcd leader m%d as the failover started", leader)

	waitFor(t, 90*time.Second, "all due tasks run and all tasks moved", func() (bool, string) {
		ts, err := st.Tasks(ctx, plan.Filter{})
		if err != nil {
			return false, err.Error()
		}
		onDead, done := 0, 0
		for _, tk := range ts {
			if tk.Core == 1 {
				onDead++
			}
			if tk.Status == plan.Succeeded {
				done++
			}
		}
		return onDead == 0 && done == due, fmt.Sprintf("%d still on core 1, %d of %d succeeded", onDead, done, due)
	})
	ts, err := st.Tasks(ctx, plan.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != due+later {
		t.Errorf("%d tasks after failover, want %d", len(ts), due+later)
	}
	log := runLog(t, runs)
	for i := range due {
		id := fmt.Sprintf("t%05d", i)
		if r := log[id]; len(r) != 1 {
			t.Errorf("task %s ran %d times (on cores %v), want exactly once", id, len(r), r)
		}
	}
	if len(log) != due {
		t.Errorf("%d distinct tasks ran, want %d", len(log), due)
	}
	if n := eventsAbout(t, st, 1, plan.EventAbnormalShutdown); n != 1 {
		t.Errorf("%d abnormal-shutdown events, want 1", n)
	}
	interrupted := 0
	for _, s := range survivors {
		b, _ := os.ReadFile(s.log.Name())
		interrupted += strings.Count(string(b), "msg=failover ")
	}
	t.Logf("failover attempts interrupted by the leader loss and resumed: %d", interrupted)
}

// TestFailoverResumedAfterHandlerDies: a handler takes the failover lock,
// moves some of the dead core's tasks (a running one with retries among
// them) and dies. An operator's update of a task of the dead core waits
// while the lock is held. A surviving core resumes: the rest move, nothing
// moves twice, no retry is used twice, the operator's update is kept.
func TestFailoverResumedAfterHandlerDies(t *testing.T) {
	c := newCluster(t)
	p := prefixFor(t)
	cli := c.client(t)
	st := NewStore(cli, p)
	ctx := context.Background()
	later := time.Now().Add(time.Hour)
	dir := t.TempDir()
	// Hold the failover lock for core 1 as a handler "core 9" would.
	lease, err := cli.Grant(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, st.metaKey("lock", 1), "9", clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	kactx, stopKA := context.WithCancel(ctx)
	defer stopKA()
	if _, err := cli.KeepAlive(kactx, lease.ID); err != nil {
		t.Fatal(err)
	}
	core1 := c.startCore(t, p, 1, plan.RoleDevice)
	c.startCore(t, p, 2, plan.RoleDevice)
	waitAlive(t, st, 1, 2)
	addTasks(t, st, withSchedule(shTask(dir, "a", 1, 2, plan.Running, 0), later),
		withSchedule(shTask(dir, "b", 1, 2, plan.Running, 0), later),
		withSchedule(shTask(dir, "c", 1, 0, plan.Pending, 0), later))
	core1.kill()
	waitFor(t, 20*time.Second, "core 1 lease expired", func() (bool, string) {
		sn, _ := st.Snapshot(ctx)
		_, alive := sn.Alive[1]
		return !alive, "alive"
	})
	// The dead handler's partial work, written as a handler writes it
	// (guarded by its lock, no per-task compare): "a" moved and one retry
	// used.
	a := mustTask(t, st, "a")
	a, _, _ = plan.AfterCoreLoss(a, 2, time.Now())
	if err := st.putTasks(ctx, []versioned{{Task: a}}, true,
		[]clientv3.Cmp{clientv3.Compare(clientv3.LeaseValue(st.metaKey("lock", 1)), "=", lease.ID)}, nil); err != nil {
		t.Fatal(err)
	}
	// An operator pausing "c" meanwhile must wait for the failover: its
	// write could otherwise land between the handler's read and write and
	// be overwritten (lost).
	paused := make(chan error, 1)
	go func() {
		_, _, err := st.UpdateTask(ctx, "c", func(tk plan.Task) (plan.Task, bool) {
			tk.Status = plan.Paused
			return tk, true
		})
		paused <- err
	}()
	time.Sleep(time.Second)
	if got := mustTask(t, st, "c"); got.Core != 1 || got.Status != plan.Pending {
		t.Fatalf("task c changed (%s on core %d) while a failover handler held the lock of core 1", got.Status, got.Core)
	}
	select {
	case err := <-paused:
		t.Fatalf("an update of a task of core 1 returned (%v) while a failover of core 1 was under way", err)
	default:
	}
	stopKA()
	if _, err := cli.Revoke(ctx, lease.ID); err != nil { // the handler dies
		t.Fatal(err)
	}
	waitHandled(t, st, 1)
	select {
	case err := <-paused:
		if err != nil {
			t.Fatalf("pausing c after the failover: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("pausing c did not finish after the failover lock was released")
	}
	for id, want := range map[string]int{"a": 1, "b": 1, "c": 0} {
		got := mustTask(t, st, id)
		if got.Core != 2 || got.Retries != want {
			t.Errorf("%s: core %d retries %d, want core 2 with %d retries", id, got.Core, got.Retries, want)
		}
	}
	// Paused before the move (moved as Paused) or after it: either way not lost.
	if got := mustTask(t, st, "c"); got.Status != plan.Paused {
		t.Errorf("c: %s after the failover, want the operator's Paused", got.Status)
	}
	sn, _ := st.Snapshot(ctx)
	if strconv.FormatInt(sn.Handled[1], 10) == "0" {
		t.Error("core 1 not marked handled")
	}
}

// TestFailoverStopsWhenATargetDies: core 3 fails core 1 over onto the
// running cores 2 and 3 of its snapshot, but core 2 dies before the
// writes. The failover must stop and leave core 1's tasks where they were
// for the next attempt to re-plan; without the target guard one task
// would land on dead core 2 after core 2's own failover may already have
// read its tasks, stranded there.
func TestFailoverStopsWhenATargetDies(t *testing.T) {
	c := newCluster(t)
	cli := c.client(t)
	st := NewStore(cli, prefixFor(t))
	ctx := context.Background()
	register := func(num int) *core {
		l, err := cli.Grant(ctx, 60)
		if err != nil {
			t.Fatal(err)
		}
		k := &core{cfg: Config{Num: num, Name: fmt.Sprintf("core%d", num), Role: plan.RoleDevice}, st: st, cli: cli,
			log: slog.New(slog.DiscardHandler), lease: l.ID}
		if err := k.register(ctx); err != nil {
			t.Fatal(err)
		}
		return k
	}
	dead, target, handler := register(1), register(2), register(3)
	dir := t.TempDir()
	addTasks(t, st, shTask(dir, "a", 1, 1, plan.Pending, 0), shTask(dir, "b", 1, 1, plan.Pending, 0))
	if _, err := cli.Revoke(ctx, dead.lease); err != nil {
		t.Fatal(err)
	}
	sn, err := st.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	running := sn.Running()
	if slices.Sort(running); !slices.Equal(running, []int{2, 3}) {
		t.Fatalf("setup: running cores %v, want [2 3]", running)
	}
	var core1 plan.Core
	for _, k := range sn.Cores {
		if k.Num == 1 {
			core1 = k
		}
	}
	if _, err := cli.Revoke(ctx, target.lease); err != nil { // core 2 dies after the snapshot
		t.Fatal(err)
	}
	if err := handler.failover(ctx, core1, plan.FailAbnormal, sn); err == nil {
		t.Fatal("a failover onto a core that died meanwhile reported success")
	}
	for _, id := range []string{"a", "b"} {
		if got := mustTask(t, st, id); got.Core != 1 {
			t.Errorf("task %s moved to core %d by a failover that had lost a target", id, got.Core)
		}
	}
	if sn, _ := st.Snapshot(ctx); sn.Handled[1] != 0 {
		t.Error("core 1 marked handled by a failover that stopped")
	}
}
