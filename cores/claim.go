package cores

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hafw/hafw/cores/plan"
)

// claimLoop runs this core's due Pending tasks. It keeps its candidates
// in memory — one full read, then the task watch from that revision — so
// a claim pass costs nothing per task in etcd however large the table is.
// Tasks run in work, which outlives claiming so a normal shutdown lets
// them finish; the loop returns when claiming ends and its tasks are done.
func (c *core) claimLoop(claiming, work context.Context) {
	var tasks sync.WaitGroup
	defer tasks.Wait()
	slots := make(chan struct{}, c.cfg.Workers)
	freed := make(chan struct{}, 1)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for claiming.Err() == nil {
		queue, rev, err := c.loadQueue(claiming)
		if err != nil {
			if claiming.Err() == nil {
				c.log.Warn("reading tasks", "err", err)
			}
			sleepCtx(claiming, c.cfg.Resync)
			continue
		}
		wch := c.cli.Watch(clientv3.WithRequireLeader(claiming), c.st.taskKey(""), clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		scan := true
	watching:
		for {
			// A pass walks the whole queue, so it runs only when something
			// may have become claimable — not for every watch batch of a
			// failover that moves 100k future tasks here.
			if scan {
				timer.Reset(c.claimDue(claiming, work, queue, slots, freed, &tasks))
				scan = false
			}
			select {
			case <-claiming.Done():
				return
			case wr, ok := <-wch:
				if !ok || wr.Err() != nil {
					break watching // compacted or leader lost: read everything again
				}
				now := time.Now()
				for _, ev := range wr.Events {
					if v, ok := c.track(queue, ev); ok && !v.Schedule.After(now) {
						scan = true
					}
				}
			case <-freed:
				scan = true
			case <-timer.C:
				scan = true
			}
		}
	}
}

// loadQueue reads every task and keeps this core's Pending ones.
func (c *core) loadQueue(ctx context.Context) (map[string]versioned, int64, error) {
	vs, rev, err := c.st.tasks(ctx, c.candidate)
	if err != nil {
		return nil, 0, err
	}
	q := make(map[string]versioned, len(vs))
	for _, v := range vs {
		q[v.ID] = v
	}
	return q, rev, nil
}

func (c *core) candidate(t plan.Task) bool {
	return t.Core == c.cfg.Num && t.Status == plan.Pending && !t.IsGroup()
}

// track applies one watch event to the queue and returns the task if it
// is (now) a candidate.
func (c *core) track(q map[string]versioned, ev *clientv3.Event) (versioned, bool) {
	id := strings.TrimPrefix(string(ev.Kv.Key), c.st.taskKey(""))
	if ev.Type == clientv3.EventTypeDelete {
		delete(q, id)
		return versioned{}, false
	}
	t, err := plan.DecodeTask(ev.Kv.Value)
	if err != nil {
		c.log.Warn("undecodable task ignored", "task", id, "err", err)
		delete(q, id)
		return versioned{}, false
	}
	if !c.candidate(t) {
		delete(q, id)
		return versioned{}, false
	}
	v := versioned{Task: t, mod: ev.Kv.ModRevision}
	q[id] = v
	return v, true
}

// claimDue claims due tasks while worker slots are free and returns how
// long until the next scheduled one (at most Resync).
func (c *core) claimDue(claiming, work context.Context, q map[string]versioned, slots, freed chan struct{}, tasks *sync.WaitGroup) time.Duration {
	now := time.Now()
	next := c.cfg.Resync
	for id, v := range q {
		if v.Schedule.After(now) {
			next = min(next, v.Schedule.Sub(now))
			continue
		}
		if c.isRunning(id) {
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			return next // full: a finishing task signals freed
		}
		delete(q, id) // claimed, or changed under us: the watch brings it back if still ours
		c.setRunning(id, true)
		// Claim inside the worker: claims of one core then overlap
		// instead of queueing behind each other's commits.
		tasks.Go(func() {
			defer func() {
				c.setRunning(id, false)
				<-slots
				select {
				case freed <- struct{}{}:
				default:
				}
			}()
			if claimed, ok := c.claim(claiming, v); ok {
				c.execute(work, claimed)
			}
		})
	}
	return max(next, time.Millisecond)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// claim marks the task Running for this incarnation in one transaction:
// only if nobody changed it since it was read and this core is alive. Two
// cores can never both succeed, so a task never runs twice.
func (c *core) claim(ctx context.Context, v versioned) (versioned, bool) {
	t := v.Task
	t.Status, t.ClaimLease, t.Started, t.Finished, t.Output = plan.Running, int64(c.lease), time.Now().UTC(), time.Time{}, ""
	k := c.st.taskKey(t.ID)
	b, err := marshalTask(t)
	if err != nil {
		c.log.Warn("encoding task", "task", t.ID, "err", err)
		return versioned{}, false
	}
	resp, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k), "=", v.mod), c.aliveGuard()).
		Then(clientv3.OpPut(k, b)).Commit()
	if err != nil || !resp.Succeeded {
		return versioned{}, false
	}
	return versioned{Task: t, mod: resp.Header.Revision}, true
}

// execute runs a claimed task and records the result, unless the task was
// taken away meanwhile (failed over because this core was cut off).
func (c *core) execute(work context.Context, v versioned) {
	out, runErr := c.cfg.Runner.Run(work, v.Task)
	t := v.Task
	t.Finished, t.Output, t.ClaimLease = time.Now().UTC(), truncate(out, 4096), 0
	switch {
	case runErr == nil:
		t.Status, t.Failure = plan.Succeeded, plan.NoFailure
	case t.Retries > 0:
		t.Retries--
		t.Status, t.Failure, t.Started = plan.Pending, plan.CommandFailed, time.Time{}
	default:
		t.Status, t.Failure = plan.Failed, plan.CommandFailed
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(work), 10*time.Second)
	defer cancel()
	err := c.st.putTasks(ctx, []versioned{{Task: t, mod: v.mod}}, false, []clientv3.Cmp{c.aliveGuard()}, nil)
	if errors.Is(err, ErrConflict) {
		c.log.Warn("task result discarded: the task was taken from this core", "task", t.ID)
		return
	}
	if err != nil {
		c.log.Warn("recording task result", "task", t.ID, "err", err)
		return
	}
	c.log.Info("task finished", "task", t.ID, "status", t.Status)
	if t.Parent != "" && t.Status.Terminal() {
		if err := c.st.refreshGroup(ctx, t.Parent); err != nil {
			c.log.Warn("updating group task", "group", t.Parent, "err", err)
		}
	}
}

func (c *core) isRunning(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running[id]
}

func (c *core) setRunning(id string, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running == nil {
		c.running = map[string]bool{}
	}
	if on {
		c.running[id] = true
	} else {
		delete(c.running, id)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
