package cores

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/cores/plan"
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
	for _, tk := range ts {
		if err := st.AddTask(context.Background(), tk); err != nil {
			t.Fatal(err)
		}
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
