package plan

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// Event texts, worded as in the seed so operators can search and build
// notification rules on them.
const (
	EventAbnormalShutdown  = "Distributed System -- Abnormal Shutdown of Core"
	EventNormalShutdown    = "Distributed System -- Normal Shutdown of Core"
	EventProcessedShutdown = "Distributed System -- Processed Normal Shutdown of Core"
	// EventNoFailover is ours: the seed says failover is then not performed;
	// we say so, with the reason, instead of staying silent.
	EventNoFailover = "Distributed System -- Failover Not Possible for Core"
)

// Shutdown is a normal-shutdown announcement by the core incarnation Lease.
type Shutdown struct {
	Lease int64     `json:"lease"`
	At    time.Time `json:"at"`
}

// Action is what the surviving cores should do about one registered core.
type Action int

// Actions returned by Decide.
const (
	Nothing      Action = iota // alive, already handled, or failover disabled
	WaitWindow                 // normal shutdown, maintenance window still open
	FailAbnormal               // lease expired without announcement
	FailNormal                 // announced shutdown and the window has passed
)

func (a Action) String() string {
	return [...]string{"nothing", "wait-window", "fail-abnormal", "fail-normal"}[a]
}

// Decide says what to do about core c at now. alive is whether its liveness
// key exists; handled is the incarnation whose failover has completed (0 if
// none); sd is its last normal-shutdown announcement, if any. For
// WaitWindow the second result is when the window closes.
func Decide(c Core, alive bool, sd *Shutdown, handled int64, o Options, now time.Time) (Action, time.Time) {
	if alive || c.Lease == 0 || handled == c.Lease || !o.EnableAutoFailover {
		return Nothing, time.Time{}
	}
	if sd != nil && sd.Lease == c.Lease {
		until := sd.At.Add(time.Duration(o.MaintenanceWindow))
		if now.Before(until) {
			return WaitWindow, until
		}
		return FailNormal, time.Time{}
	}
	return FailAbnormal, time.Time{}
}

// Mover plans the failover of one stopped core (the seed's rules: which
// of its tasks change, and where they go) task by task, so that a large
// failover writes the first tasks while it still reads the rest.
type Mover struct {
	dead     int
	topology Topology
	targets  []int
	next     int // round robin: index of the next target
	now      time.Time
}

// NewMover picks the cores that receive the work of the stopped core dead:
// cores is every registered core, running the numbers of the cores alive
// now. It returns ErrNoTarget (wrapped with the seed's reason) when no
// core may take the work; then nothing should change.
func NewMover(dead Core, cores []Core, running []int, o Options, now time.Time) (*Mover, error) {
	m := &Mover{dead: dead.Num, topology: o.Topology, now: now}
	switch o.Topology {
	case CoreBinding:
		t, err := bindingTarget(dead, cores, running, o.Overrides[dead.Num])
		if err != nil {
			return nil, err
		}
		m.targets = []int{t}
	default:
		t, err := roundRobinTargets(dead, cores, running)
		if err != nil {
			return nil, err
		}
		m.targets = t
	}
	return m, nil
}

// Targets are the cores that receive work.
func (m *Mover) Targets() []int { return slices.Clone(m.targets) }

// Partitions is the new owner of each of the stopped core's partitions: in
// core binding they all go to the one target; in round robin partitions
// have no owner to change (nil).
func (m *Mover) Partitions(partitions []string) map[string]int {
	if m.topology != CoreBinding || len(partitions) == 0 {
		return nil
	}
	out := make(map[string]int, len(partitions))
	for _, p := range partitions {
		out[p] = m.targets[0]
	}
	return out
}

// Move applies the rules to one task and says whether it changed; tasks
// of other cores are left alone. Call it in task ID order: the round
// robin hands the moved tasks to the targets in turn.
func (m *Mover) Move(t Task) (Task, bool) {
	if t.Core != m.dead {
		return t, false
	}
	nt, changed, moved := AfterCoreLoss(t, m.targets[m.next%len(m.targets)], m.now)
	if moved {
		m.next++
	}
	return nt, changed
}

// AfterCoreLoss applies the seed's task-status rules to one task of a core
// that stopped, moving it to core to where the rules say it moves. It
// returns the new task, whether it changed and whether it moved.
//   - Running with retries left: moved, Pending, one retry used.
//   - Running without retries: stays with the stopped core, Failed, Core Down.
//   - Pending or Waiting: moved, Pending. Paused: moved, still Paused.
//   - Group tasks stay (their status follows their children); finished
//     tasks stay as history.
func AfterCoreLoss(t Task, to int, now time.Time) (Task, bool, bool) {
	if t.IsGroup() || t.Status.Terminal() {
		return t, false, false
	}
	switch t.Status {
	case Running:
		t.ClaimLease = 0
		if t.Retries > 0 {
			t.Retries--
			t.Status, t.Core, t.Started = Pending, to, time.Time{}
			return t, true, true
		}
		t.Status, t.Failure, t.Finished = Failed, CoreDown, now
		return t, true, false
	case Pending, Waiting:
		t.Status, t.Core = Pending, to
		return t, true, true
	case Paused:
		t.Core = to
		return t, true, true
	}
	return t, false, false
}

// roundRobinTargets are the running cores that may receive moved tasks in
// the distributed round-robin topology: every running core except those
// reserved for user interaction.
func roundRobinTargets(dead Core, cores []Core, running []int) ([]int, error) {
	if len(without(running, dead.Num)) == 0 {
		return nil, fmt.Errorf("core %d: no running core: %w", dead.Num, ErrNoTarget)
	}
	roles := roleMap(cores)
	var out []int
	for _, n := range without(running, dead.Num) {
		if roles[n] != RoleUserInteraction {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("core %d: every running core is reserved for user interaction: %w", dead.Num, ErrNoTarget)
	}
	sort.Ints(out)
	return out, nil
}

// bindingTarget is the one core that takes all partitions of the stopped
// core in the core-binding topology: the first running core of the override
// list, or by default the next core in sequence (1→2→3→1…). Cores reserved
// for local device tasks take nothing; user-interaction cores may.
func bindingTarget(dead Core, cores []Core, running []int, override []int) (int, error) {
	alive := without(running, dead.Num)
	if len(alive) == 0 {
		return 0, fmt.Errorf("core %d: no running core: %w", dead.Num, ErrNoTarget)
	}
	roles := roleMap(cores)
	eligible := func(n int) bool { return slices.Contains(alive, n) && roles[n] != RoleLocalDevice }
	if len(override) > 0 {
		for _, n := range override {
			if eligible(n) {
				return n, nil
			}
		}
		return 0, fmt.Errorf("core %d: no failover destination of bind_to_core_override_%d %v is running and accepts device tasks: %w",
			dead.Num, dead.Num, override, ErrNoTarget)
	}
	seq := make([]int, 0, len(cores))
	for _, c := range cores {
		seq = append(seq, c.Num)
	}
	sort.Ints(seq)
	start := sort.SearchInts(seq, dead.Num)
	for i := 1; i <= len(seq); i++ {
		n := seq[(start+i)%len(seq)]
		if n != dead.Num && eligible(n) {
			return n, nil
		}
	}
	return 0, fmt.Errorf("core %d: every running core is reserved for local device tasks: %w", dead.Num, ErrNoTarget)
}

func roleMap(cores []Core) map[int]Role {
	m := make(map[int]Role, len(cores))
	for _, c := range cores {
		m[c.Num] = c.Role
	}
	return m
}

func without(ns []int, x int) []int {
	var out []int
	for _, n := range ns {
		if n != x {
			out = append(out, n)
		}
	}
	return out
}

// GroupStatus is a group task's status from its children's: Running while
// any child has not finished, Failed if any child failed, else Succeeded.
func GroupStatus(children []Status) Status {
	st := Succeeded
	for _, c := range children {
		switch {
		case !c.Terminal():
			return Running
		case c == Failed:
			st = Failed
		}
	}
	return st
}

// PickCore chooses the core for a new or re-run task: in core binding the
// owner of its partition if that core runs, otherwise (and in round robin)
// the running core that accepts device tasks with the fewest unfinished
// tasks (load), lowest number first — round robin's normal distribution,
// which is also how a restored core gets work back (transparent failback).
func PickCore(cores []Core, running []int, load map[int]int, partitionOwner int, o Options) (int, error) {
	if o.Topology == CoreBinding && partitionOwner != 0 && slices.Contains(running, partitionOwner) {
		return partitionOwner, nil
	}
	roles := roleMap(cores)
	best := 0
	for _, n := range running {
		if roles[n] == RoleUserInteraction {
			continue
		}
		if best == 0 || load[n] < load[best] || (load[n] == load[best] && n < best) {
			best = n
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("placing a task: %w", ErrNoTarget)
	}
	return best, nil
}
