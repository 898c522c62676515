package plan

import (
	"slices"
	"strings"
	"time"
)

// result is a whole failover planned at once.
type result struct {
	Tasks      []Task // the changed tasks, in ID order
	Partitions map[string]int
	Targets    []int
}

// failover plans a whole failover with a Mover, feeding it the tasks in
// ID order as the store does page by page; the table tests check the
// seed's rules on its result.
func failover(dead Core, cores []Core, running []int, tasks []Task, partitions []string, o Options, now time.Time) (result, error) {
	m, err := NewMover(dead, cores, running, o, now)
	if err != nil {
		return result{}, err
	}
	res := result{Targets: m.Targets(), Partitions: m.Partitions(partitions)}
	sorted := slices.SortedFunc(slices.Values(tasks), func(a, b Task) int { return strings.Compare(a.ID, b.ID) })
	for _, t := range sorted {
		if nt, changed := m.Move(t); changed {
			res.Tasks = append(res.Tasks, nt)
		}
	}
	return res, nil
}
