package plan

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)

func cores(roles ...Role) []Core {
	var out []Core
	for i, r := range roles {
		out = append(out, Core{Num: i + 1, Name: "core" + string(rune('1'+i)), Role: r, Lease: int64(100 + i)})
	}
	return out
}

func TestDecide(t *testing.T) {
	c := Core{Num: 1, Lease: 7}
	on := DefaultOptions()
	on.MaintenanceWindow = Duration(time.Minute)
	off := on
	off.EnableAutoFailover = false
	sd := &Shutdown{Lease: 7, At: t0}
	oldSD := &Shutdown{Lease: 6, At: t0}
	for _, tc := range []struct {
		name    string
		alive   bool
		sd      *Shutdown
		handled int64
		o       Options
		now     time.Time
		want    Action
	}{
		{"alive", true, nil, 0, on, t0, Nothing},
		{"lease expired", false, nil, 0, on, t0, FailAbnormal},
		{"already handled", false, nil, 7, on, t0, Nothing},
		{"earlier incarnation handled", false, nil, 6, on, t0, FailAbnormal},
		{"failover disabled", false, nil, 0, off, t0, Nothing},
		{"normal shutdown inside window", false, sd, 0, on, t0.Add(59 * time.Second), WaitWindow},
		{"normal shutdown after window", false, sd, 0, on, t0.Add(time.Minute), FailNormal},
		{"announcement of an earlier incarnation", false, oldSD, 0, on, t0, FailAbnormal},
		{"back inside window", true, sd, 0, on, t0.Add(time.Second), Nothing},
		{"normal shutdown, failover disabled", false, sd, 0, off, t0.Add(time.Hour), Nothing},
	} {
		got, until := Decide(c, tc.alive, tc.sd, tc.handled, tc.o, tc.now)
		if got != tc.want {
			t.Errorf("%s: Decide = %v, want %v", tc.name, got, tc.want)
		}
		if got == WaitWindow && !until.Equal(t0.Add(time.Minute)) {
			t.Errorf("%s: window closes %v, want %v", tc.name, until, t0.Add(time.Minute))
		}
	}
}

func TestAfterCoreLoss(t *testing.T) {
	for _, tc := range []struct {
		name          string
		in            Task
		want          Task
		changed, move bool
	}{
		{"running with retries", Task{ID: "a", Status: Running, Retries: 2, Core: 1, ClaimLease: 9, Started: t0},
			Task{ID: "a", Status: Pending, Retries: 1, Core: 3}, true, true},
		{"running without retries", Task{ID: "a", Status: Running, Core: 1, ClaimLease: 9, Started: t0},
			Task{ID: "a", Status: Failed, Failure: CoreDown, Core: 1, Started: t0, Finished: t0}, true, false},
		{"pending", Task{ID: "a", Status: Pending, Core: 1}, Task{ID: "a", Status: Pending, Core: 3}, true, true},
		{"waiting", Task{ID: "a", Status: Waiting, Core: 1}, Task{ID: "a", Status: Pending, Core: 3}, true, true},
		{"paused", Task{ID: "a", Status: Paused, Core: 1}, Task{ID: "a", Status: Paused, Core: 3}, true, true},
		{"group", Task{ID: "g", Status: Running, Core: 1, Children: []string{"c"}},
			Task{ID: "g", Status: Running, Core: 1, Children: []string{"c"}}, false, false},
		{"succeeded", Task{ID: "a", Status: Succeeded, Core: 1}, Task{ID: "a", Status: Succeeded, Core: 1}, false, false},
		{"failed", Task{ID: "a", Status: Failed, Core: 1}, Task{ID: "a", Status: Failed, Core: 1}, false, false},
	} {
		got, changed, moved := AfterCoreLoss(tc.in, 3, t0)
		if !reflect.DeepEqual(got, tc.want) || changed != tc.changed || moved != tc.move {
			t.Errorf("%s:\n got %+v changed=%v moved=%v\nwant %+v changed=%v moved=%v", tc.name, got, changed, moved, tc.want, tc.changed, tc.move)
		}
	}
}

func TestFailoverRoundRobinSpreadsAndSkipsUserInteraction(t *testing.T) {
	cs := cores(RoleDevice, RoleDevice, RoleUserInteraction, RoleLocalDevice)
	var tasks []Task
	for _, id := range []string{"t1", "t2", "t3", "t4"} {
		tasks = append(tasks, Task{ID: id, Status: Pending, Core: 1})
	}
	res, err := failover(cs[0], cs, []int{2, 3, 4}, tasks, nil, DefaultOptions(), t0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, nt := range res.Tasks {
		got[nt.ID] = nt.Core
	}
	want := map[string]int{"t1": 2, "t2": 4, "t3": 2, "t4": 4}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round robin placed %v, want %v (core 3 is user-interaction only)", got, want)
	}
	if !reflect.DeepEqual(res.Targets, []int{2, 4}) {
		t.Errorf("targets %v", res.Targets)
	}
}

func TestFailoverNoTarget(t *testing.T) {
	rr := DefaultOptions()
	cb := DefaultOptions()
	cb.Topology = CoreBinding
	cbOverride := cb
	cbOverride.Overrides = map[int][]int{1: {4, 2}}
	tasks := []Task{{ID: "t", Status: Pending, Core: 1}}
	for _, tc := range []struct {
		name    string
		cs      []Core
		running []int
		o       Options
	}{
		{"round robin, no running core", cores(RoleDevice, RoleDevice), nil, rr},
		{"round robin, only the dead core itself", cores(RoleDevice, RoleDevice), []int{1}, rr},
		{"round robin, all running reserved for user interaction", cores(RoleDevice, RoleUserInteraction, RoleUserInteraction), []int{2, 3}, rr},
		{"core binding, no running core", cores(RoleDevice, RoleDevice), nil, cb},
		{"core binding, all running reserved for local device tasks", cores(RoleDevice, RoleLocalDevice, RoleLocalDevice), []int{2, 3}, cb},
		{"core binding, override targets down", cores(RoleDevice, RoleDevice, RoleDevice, RoleDevice), []int{3}, cbOverride},
	} {
		res, err := failover(tc.cs[0], tc.cs, tc.running, tasks, []string{"p"}, tc.o, t0)
		if !errors.Is(err, ErrNoTarget) {
			t.Errorf("%s: err = %v, want ErrNoTarget", tc.name, err)
		}
		if len(res.Tasks) != 0 || len(res.Partitions) != 0 {
			t.Errorf("%s: planned changes %+v despite no target", tc.name, res)
		}
	}
}

func TestFailoverCoreBindingOrder(t *testing.T) {
	cb := DefaultOptions()
	cb.Topology = CoreBinding
	five := cores(RoleDevice, RoleDevice, RoleDevice, RoleDevice, RoleDevice)
	for _, tc := range []struct {
		name     string
		cs       []Core
		dead     int
		running  []int
		override map[int][]int
		want     int
	}{
		{"1 to 2", five[:3], 1, []int{2, 3}, nil, 2},
		{"1 to 3 when 2 is down", five[:3], 1, []int{3}, nil, 3},
		{"2 to 3", five[:3], 2, []int{1, 3}, nil, 3},
		{"2 to 1 when 3 is down", five[:3], 2, []int{1}, nil, 1},
		{"3 wraps to 1", five[:3], 3, []int{1, 2}, nil, 1},
		{"3 to 2 when 1 is down", five[:3], 3, []int{2}, nil, 2},
		{"override 4,2: to 4", five, 1, []int{2, 3, 4, 5}, map[int][]int{1: {4, 2}}, 4},
		{"override 4,2: to 2 when 4 is down", five, 1, []int{2, 3, 5}, map[int][]int{1: {4, 2}}, 2},
		{"local-device core skipped", cores(RoleDevice, RoleLocalDevice, RoleDevice), 1, []int{2, 3}, nil, 3},
		{"user-interaction core may receive", cores(RoleDevice, RoleUserInteraction, RoleDevice), 1, []int{2, 3}, nil, 2},
		{"override skips local-device", cores(RoleDevice, RoleDevice, RoleDevice, RoleLocalDevice), 1, []int{2, 3, 4}, map[int][]int{1: {4, 3}}, 3},
	} {
		o := cb
		o.Overrides = tc.override
		tasks := []Task{{ID: "a", Status: Pending, Core: tc.dead, Partition: "p1"}, {ID: "b", Status: Waiting, Core: tc.dead, Partition: "p2"}}
		res, err := failover(tc.cs[tc.dead-1], tc.cs, tc.running, tasks, []string{"p1", "p2"}, o, t0)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(res.Partitions, map[string]int{"p1": tc.want, "p2": tc.want}) {
			t.Errorf("%s: partitions %v, want all on %d", tc.name, res.Partitions, tc.want)
		}
		for _, nt := range res.Tasks {
			if nt.Core != tc.want || nt.Status != Pending {
				t.Errorf("%s: task %s on core %d status %s, want core %d Pending", tc.name, nt.ID, nt.Core, nt.Status, tc.want)
			}
		}
		if len(res.Tasks) != 2 {
			t.Errorf("%s: %d tasks moved, want 2", tc.name, len(res.Tasks))
		}
	}
}

func TestFailoverMixedStatuses(t *testing.T) {
	cs := cores(RoleDevice, RoleDevice)
	tasks := []Task{
		{ID: "done", Status: Succeeded, Core: 1},
		{ID: "g", Status: Running, Core: 1, Children: []string{"g.1"}},
		{ID: "g.1", Status: Pending, Core: 1, Parent: "g"},
		{ID: "other", Status: Pending, Core: 2},
		{ID: "run0", Status: Running, Core: 1},
		{ID: "run1", Status: Running, Core: 1, Retries: 1},
	}
	res, err := failover(cs[0], cs, []int{2}, tasks, nil, DefaultOptions(), t0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, nt := range res.Tasks {
		got[nt.ID] = string(nt.Status) + "@" + string(rune('0'+nt.Core))
	}
	want := map[string]string{"g.1": "Pending@2", "run0": "Failed@1", "run1": "Pending@2"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
}

func TestGroupStatus(t *testing.T) {
	for _, tc := range []struct {
		in   []Status
		want Status
	}{
		{[]Status{Succeeded, Succeeded}, Succeeded},
		{[]Status{Succeeded, Pending}, Running},
		{[]Status{Failed, Running}, Running},
		{[]Status{Failed, Succeeded}, Failed},
	} {
		if got := GroupStatus(tc.in); got != tc.want {
			t.Errorf("GroupStatus(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseOverride(t *testing.T) {
	got, err := ParseOverride("4, 2")
	if err != nil || !reflect.DeepEqual(got, []int{4, 2}) {
		t.Fatalf("ParseOverride(4, 2) = %v, %v", got, err)
	}
	for _, bad := range []string{"", "4,", "x", "0", "-1"} {
		if _, err := ParseOverride(bad); err == nil {
			t.Errorf("ParseOverride(%q) accepted", bad)
		}
	}
	o := DefaultOptions()
	o.Overrides = map[int][]int{1: {1}}
	if o.Validate() == nil {
		t.Error("an override to the core itself was accepted")
	}
}

func TestSearchAndPause(t *testing.T) {
	ts := []Task{
		{ID: "a", Status: Failed, Failure: CoreDown, Core: 1, Started: t0, Schedule: t0.Add(-time.Hour)},
		{ID: "b", Status: Failed, Failure: CommandFailed, Core: 1, Started: t0},
		{ID: "c", Status: Failed, Failure: CoreDown, Core: 2, Started: t0},
		{ID: "d", Status: Failed, Failure: CoreDown, Core: 1, Started: t0.Add(-2 * time.Hour)},
	}
	f := Filter{Status: Failed, Failure: CoreDown, Core: 1, Since: t0.Add(-time.Minute), Until: t0.Add(time.Minute), ByStart: true}
	var got []string
	for _, tk := range ts {
		if f.Match(tk) {
			got = append(got, tk.ID)
		}
	}
	if !reflect.DeepEqual(got, []string{"a"}) {
		t.Errorf("search found %v, want [a]", got)
	}
	for _, tc := range []struct {
		t    Task
		want bool
	}{
		{Task{Status: Pending, Schedule: t0.Add(time.Hour)}, true},
		{Task{Status: Waiting, Schedule: t0.Add(4 * time.Hour)}, true},
		{Task{Status: Pending, Schedule: t0.Add(5 * time.Hour)}, false},
		{Task{Status: Pending, Schedule: t0.Add(-time.Minute)}, false},
		{Task{Status: Pending, Schedule: t0.Add(time.Hour), Critical: true}, false},
		{Task{Status: Running, Schedule: t0.Add(time.Hour)}, false},
	} {
		if got := PauseCandidate(tc.t, t0, 4*time.Hour); got != tc.want {
			t.Errorf("PauseCandidate(%+v) = %v, want %v", tc.t, got, tc.want)
		}
	}
	if nt, ok := Rerun(ts[0], 2, 1); !ok || nt.Status != Pending || nt.Failure != NoFailure || nt.Core != 2 || nt.Retries != 1 {
		t.Errorf("Rerun = %+v, %v", nt, ok)
	}
	if _, ok := Rerun(Task{Status: Succeeded}, 2, 0); ok {
		t.Error("Rerun accepted a succeeded task")
	}
}

func TestPickCore(t *testing.T) {
	cs := cores(RoleDevice, RoleUserInteraction, RoleDevice)
	rr := DefaultOptions()
	cb := DefaultOptions()
	cb.Topology = CoreBinding
	for _, tc := range []struct {
		name    string
		running []int
		load    map[int]int
		owner   int
		o       Options
		want    int
	}{
		{"least loaded", []int{1, 2, 3}, map[int]int{1: 5, 3: 2}, 0, rr, 3},
		{"tie goes to the lower number", []int{1, 3}, nil, 0, rr, 1},
		{"never the user-interaction core", []int{2, 3}, map[int]int{3: 100}, 0, rr, 3},
		{"restored core gets work (transparent failback)", []int{1, 3}, map[int]int{3: 7}, 0, rr, 1},
		{"core binding: partition owner", []int{1, 3}, nil, 3, cb, 3},
		{"core binding: owner down", []int{1}, nil, 3, cb, 1},
	} {
		got, err := PickCore(cs, tc.running, tc.load, tc.owner, tc.o)
		if err != nil || got != tc.want {
			t.Errorf("%s: PickCore = %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
	if _, err := PickCore(cs, []int{2}, nil, 0, rr); !errors.Is(err, ErrNoTarget) {
		t.Errorf("only a user-interaction core running: err = %v, want ErrNoTarget", err)
	}
}
