package cores

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hafw/hafw/cores/plan"
	"github.com/hafw/hafw/internal/testenv"
)

// newCluster starts a 3-member cluster for one test (members are
// processes the test owns, so each test gets its own).
func newCluster(t *testing.T) *cluster {
	t.Helper()
	testenv.RequireCommand(t, "sh")
	return startCluster(t)
}

func prefixFor(t *testing.T) string { return "/test/" + t.Name() + "/" }

func addTasks(t *testing.T, st *Store, ts ...plan.Task) {
	t.Helper()
	if err := st.AddTasks(context.Background(), ts...); err != nil {
		t.Fatal(err)
	}
}

// TestAbnormalShutdownRoundRobin kills -9 a core running and holding tasks
// of every kind and checks each is handled per the seed, on the running
// cores only (not the user-interaction one), once, with one event.
func TestAbnormalShutdownRoundRobin(t *testing.T) {
	c := newCluster(t)
	st := NewStore(c.client(t), prefixFor(t))
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	core1 := c.startCore(t, prefixFor(t), 1, plan.RoleDevice)
	waitAlive(t, st, 1)
	later := time.Now().Add(time.Hour)
	addTasks(t, st,
		shTask(dir, "run-retry", 1, 1, plan.Pending, 60),
		shTask(dir, "run-noretry", 1, 0, plan.Pending, 60),
		plan.Task{ID: "g", Core: 1, Status: plan.Running, Children: []string{"g.1", "g.2"}},
		withParent(shTask(dir, "g.1", 1, 1, plan.Pending, 60), "g"),
		withParent(withSchedule(shTask(dir, "g.2", 1, 0, plan.Pending, 0), later), "g"),
		withSchedule(shTask(dir, "wait", 1, 0, plan.Waiting, 0), later),
		withSchedule(shTask(dir, "paused", 1, 0, plan.Paused, 0), later),
	)
	for i := range 6 {
		addTasks(t, st, withSchedule(shTask(dir, fmt.Sprintf("later-%d", i), 1, 0, plan.Pending, 0), later))
	}
	waitFor(t, 20*time.Second, "core 1 running its three due tasks", func() (bool, string) {
		n := 0
		for _, id := range []string{"run-retry", "run-noretry", "g.1"} {
			if mustTask(t, st, id).Status == plan.Running {
				n++
			}
		}
		return n == 3 && len(runLog(t, runs)) == 3, fmt.Sprintf("%d running", n)
	})
	c.startCore(t, prefixFor(t), 2, plan.RoleDevice)
	c.startCore(t, prefixFor(t), 3, plan.RoleUserInteraction)
	c.startCore(t, prefixFor(t), 4, plan.RoleDevice)
	waitAlive(t, st, 2, 3, 4)

	killed := time.Now()
	core1.kill()
	waitFor(t, 30*time.Second, "failover of core 1", func() (bool, string) {
		sn, _ := st.Snapshot(context.Background())
		return sn.Handled[1] != 0, "not handled yet"
	})
	t.Logf("core 1 failed over %v after kill -9 (lease TTL %v)", time.Since(killed).Round(10*time.Millisecond), testTTL)

	if got := mustTask(t, st, "run-noretry"); got.Status != plan.Failed || got.Failure != plan.CoreDown || got.Core != 1 {
		t.Errorf("running task without retries: %s/%q on core %d, want Failed/Core Down on core 1", got.Status, got.Failure, got.Core)
	}
	if got := mustTask(t, st, "g"); got.Core != 1 {
		t.Errorf("group task moved to core %d; it must stay with core 1", got.Core)
	}
	perCore := map[int]int{}
	for _, id := range []string{"wait", "paused", "g.2", "later-0", "later-1", "later-2", "later-3", "later-4", "later-5"} {
		got := mustTask(t, st, id)
		want := plan.Pending
		if id == "paused" {
			want = plan.Paused
		}
		if got.Status != want || (got.Core != 2 && got.Core != 4) {
			t.Errorf("task %s: %s on core %d, want %s on core 2 or 4", id, got.Status, got.Core, want)
		}
		perCore[got.Core]++
	}
	if perCore[2] < 3 || perCore[4] < 3 {
		t.Errorf("moved tasks not spread over cores 2 and 4: %v", perCore)
	}
	// The retried tasks run again elsewhere, once; the group follows its children.
	waitFor(t, 20*time.Second, "retried tasks finished on another core", func() (bool, string) {
		a, b := mustTask(t, st, "run-retry"), mustTask(t, st, "g.1")
		return a.Status == plan.Succeeded && b.Status == plan.Succeeded, fmt.Sprintf("run-retry %s, g.1 %s", a.Status, b.Status)
	})
	for _, id := range []string{"run-retry", "g.1"} {
		got := mustTask(t, st, id)
		if got.Core != 2 && got.Core != 4 || got.Retries != 0 {
			t.Errorf("%s: core %d retries %d, want core 2 or 4 with the retry used", id, got.Core, got.Retries)
		}
		if r := runLog(t, runs)[id]; len(r) != 2 || r[0] != "1" || r[1] == "1" || r[1] == "3" {
			t.Errorf("%s ran on cores %v, want once on 1 then once on 2 or 4", id, r)
		}
	}
	if r := runLog(t, runs)["run-noretry"]; len(r) != 1 {
		t.Errorf("run-noretry ran %d times, want 1", len(r))
	}
	// g.2 is scheduled later: the group is still open.
	if got := mustTask(t, st, "g"); got.Status != plan.Running {
		t.Errorf("group status %s with a child still pending, want Running", got.Status)
	}
	if _, _, err := st.UpdateTask(context.Background(), "g.2", func(tk plan.Task) (plan.Task, bool) {
		tk.Schedule = time.Now().Add(-time.Second)
		return tk, true
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "group finished after its last child", func() (bool, string) {
		g := mustTask(t, st, "g")
		return g.Status == plan.Succeeded && g.Core == 1, fmt.Sprintf("group %s on core %d", g.Status, g.Core)
	})
	for id, r := range runLog(t, runs) {
		if core := slices.Index(r, "3"); core >= 0 {
			t.Errorf("task %s ran on user-interaction core 3", id)
		}
	}
	if n := eventsAbout(t, st, 1, plan.EventAbnormalShutdown); n != 1 {
		t.Errorf("%d %q events, want 1", n, plan.EventAbnormalShutdown)
	}
}

func withSchedule(t plan.Task, at time.Time) plan.Task { t.Schedule = at; return t }
func withParent(t plan.Task, p string) plan.Task       { t.Parent = p; return t }

func setOptions(t *testing.T, st *Store, change func(*plan.Options)) {
	t.Helper()
	o := plan.DefaultOptions()
	change(&o)
	if err := st.SetOptions(context.Background(), o); err != nil {
		t.Fatal(err)
	}
}

func waitHandled(t *testing.T, st *Store, num int) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("failover of core %d", num), func() (bool, string) {
		sn, err := st.Snapshot(context.Background())
		if err != nil {
			return false, err.Error()
		}
		return sn.Handled[num] != 0, "not handled"
	})
}

// TestCoreBindingOverrideAndNoTarget: core 1 (override 4,2; 4 is not
// running) fails over with all its partitions to core 2; when core 2
// then dies, the only running core is reserved for local device tasks, so
// nothing moves and an event says why.
func TestCoreBindingOverrideAndNoTarget(t *testing.T) {
	c := newCluster(t)
	st := NewStore(c.client(t), prefixFor(t))
	ctx := context.Background()
	setOptions(t, st, func(o *plan.Options) {
		o.Topology = plan.CoreBinding
		o.Overrides = map[int][]int{1: {4, 2}}
	})
	dir := t.TempDir()
	later := time.Now().Add(time.Hour)
	core1 := c.startCore(t, prefixFor(t), 1, plan.RoleDevice)
	core2 := c.startCore(t, prefixFor(t), 2, plan.RoleDevice)
	c.startCore(t, prefixFor(t), 3, plan.RoleLocalDevice)
	waitAlive(t, st, 1, 2, 3)
	for _, p := range []string{"site-a", "site-b"} {
		if _, err := st.AssignPartition(ctx, p, 1); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range []string{"site-a", "site-b", "site-a"} {
		tk := withSchedule(shTask(dir, fmt.Sprintf("t%d", i), 1, 0, plan.Pending, 0), later)
		tk.Partition = p
		addTasks(t, st, tk)
	}
	core1.kill()
	waitHandled(t, st, 1)
	sn, _ := st.Snapshot(ctx)
	if sn.Partitions["site-a"] != 2 || sn.Partitions["site-b"] != 2 {
		t.Errorf("partitions after failover %v, want both on core 2 (override 4,2 with 4 down)", sn.Partitions)
	}
	for i := range 3 {
		if got := mustTask(t, st, fmt.Sprintf("t%d", i)); got.Core != 2 || got.Status != plan.Pending {
			t.Errorf("t%d: %s on core %d, want Pending on core 2", i, got.Status, got.Core)
		}
	}

	core2.kill()
	waitFor(t, 30*time.Second, "no-failover event for core 2", func() (bool, string) {
		return eventsAbout(t, st, 2, plan.EventNoFailover) == 1, "no event"
	})
	time.Sleep(time.Second) // a few more reconcile rounds must not move anything nor repeat the event
	sn, _ = st.Snapshot(ctx)
	if sn.Handled[2] != 0 || sn.Partitions["site-a"] != 2 {
		t.Errorf("core 2 was failed over onto a local-device core: handled %d, partitions %v", sn.Handled[2], sn.Partitions)
	}
	if got := mustTask(t, st, "t0"); got.Core != 2 {
		t.Errorf("t0 moved to core %d although no core may take it", got.Core)
	}
	if n := eventsAbout(t, st, 2, plan.EventNoFailover); n != 1 {
		t.Errorf("%d no-failover events, want 1", n)
	}
	// Once a core that may take the work runs again, the pending failover
	// happens: 2 → 3 (local device, skipped) → 1.
	c.startCore(t, prefixFor(t), 1, plan.RoleDevice)
	waitHandled(t, st, 2)
	sn, _ = st.Snapshot(ctx)
	if sn.Partitions["site-a"] != 1 || sn.Partitions["site-b"] != 1 {
		t.Errorf("partitions %v after core 1 returned, want both on core 1", sn.Partitions)
	}
	// Failback in core binding is the operator's partition reassignment:
	// nothing moves back to the restored core 2 by itself.
	c.startCore(t, prefixFor(t), 2, plan.RoleDevice)
	waitAlive(t, st, 2)
	if got := mustTask(t, st, "t0"); got.Core != 1 {
		t.Errorf("t0 on core %d after core 2 returned; failback must be manual", got.Core)
	}
	if n, err := st.AssignPartition(ctx, "site-a", 2); err != nil || n != 2 {
		t.Fatalf("reassigning site-a: moved %d, %v; want 2 tasks", n, err)
	}
	if got := mustTask(t, st, "t0"); got.Core != 2 {
		t.Errorf("t0 on core %d after reassigning site-a to core 2", got.Core)
	}
	if got := mustTask(t, st, "t1"); got.Core != 1 {
		t.Errorf("t1 (site-b) on core %d, want it left on core 1", got.Core)
	}
}

// TestNormalShutdownWaitsWindow: a SIGTERM'd core announces its shutdown;
// the others wait the (shortened) maintenance window before failing it
// over; a core that comes back inside the window keeps its tasks.
func TestNormalShutdownWaitsWindow(t *testing.T) {
	c := newCluster(t)
	st := NewStore(c.client(t), prefixFor(t))
	const window = 4 * time.Second
	setOptions(t, st, func(o *plan.Options) { o.MaintenanceWindow = plan.Duration(window) })
	dir := t.TempDir()
	later := time.Now().Add(time.Hour)
	core1 := c.startCore(t, prefixFor(t), 1, plan.RoleDevice)
	c.startCore(t, prefixFor(t), 2, plan.RoleDevice)
	core3 := c.startCore(t, prefixFor(t), 3, plan.RoleDevice)
	waitAlive(t, st, 1, 2, 3)
	addTasks(t, st, withSchedule(shTask(dir, "on1", 1, 0, plan.Pending, 0), later),
		withSchedule(shTask(dir, "on3", 3, 0, plan.Pending, 0), later))

	stopped := time.Now()
	core1.term(t)
	core3.term(t)
	if n := eventsAbout(t, st, 1, plan.EventNormalShutdown); n != 1 {
		t.Fatalf("%d normal-shutdown events for core 1, want 1", n)
	}
	c.startCore(t, prefixFor(t), 3, plan.RoleDevice) // back inside the window
	waitAlive(t, st, 3)
	time.Sleep(window / 2)
	if got := mustTask(t, st, "on1"); got.Core != 1 {
		t.Fatalf("on1 moved to core %d %v after a normal shutdown, inside the window", got.Core, time.Since(stopped))
	}
	waitHandled(t, st, 1)
	if waited := time.Since(stopped); waited < window {
		t.Errorf("failover after %v, before the %v window closed", waited, window)
	}
	if got := mustTask(t, st, "on1"); got.Core != 2 && got.Core != 3 {
		t.Errorf("on1 on core %d after the window, want a running core", got.Core)
	}
	if n := eventsAbout(t, st, 1, plan.EventProcessedShutdown); n != 1 {
		t.Errorf("%d processed-normal-shutdown events for core 1, want 1", n)
	}
	if n := eventsAbout(t, st, 1, plan.EventAbnormalShutdown); n != 0 {
		t.Errorf("a normal shutdown was reported as abnormal")
	}
	if got := mustTask(t, st, "on3"); got.Core != 3 {
		t.Errorf("on3 moved to core %d although core 3 came back inside the window", got.Core)
	}
	if n := eventsAbout(t, st, 3, plan.EventProcessedShutdown); n != 0 {
		t.Errorf("core 3 came back inside the window but was failed over")
	}
}

// TestDisableFailoverOnOneCoreStopsAll: each core talks to a different etcd
// member; enable_auto_failover=false written through one member stops
// failover on every core; re-enabling fails the dead core over.
func TestDisableFailoverOnOneCoreStopsAll(t *testing.T) {
	c := newCluster(t)
	p := prefixFor(t)
	st := NewStore(c.client(t, c.endpoints[0]), p)
	dir := t.TempDir()
	later := time.Now().Add(time.Hour)
	c.startCore(t, p, 1, plan.RoleDevice, c.endpoints[0])
	c.startCore(t, p, 2, plan.RoleDevice, c.endpoints[1])
	core3 := c.startCore(t, p, 3, plan.RoleDevice, c.endpoints[2])
	waitAlive(t, st, 1, 2, 3)
	addTasks(t, st, withSchedule(shTask(dir, "x", 3, 0, plan.Pending, 0), later))
	setOptions(t, st, func(o *plan.Options) { o.EnableAutoFailover = false })

	core3.kill()
	waitFor(t, 30*time.Second, "core 3 lease expired", func() (bool, string) {
		sn, _ := st.Snapshot(context.Background())
		_, alive := sn.Alive[3]
		return !alive, "still alive"
	})
	time.Sleep(2 * time.Second) // several reconcile rounds on cores 1 and 2
	if got := mustTask(t, st, "x"); got.Core != 3 {
		t.Fatalf("task moved to core %d with enable_auto_failover=false", got.Core)
	}
	if n := eventsAbout(t, st, 3, plan.EventAbnormalShutdown); n != 0 {
		t.Fatalf("failover started with enable_auto_failover=false")
	}
	setOptions(t, NewStore(c.client(t, c.endpoints[1]), p), func(o *plan.Options) { o.EnableAutoFailover = true })
	waitHandled(t, st, 3)
	if got := mustTask(t, st, "x"); got.Core == 3 {
		t.Errorf("task still on core 3 after re-enabling failover")
	}
}
