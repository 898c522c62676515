package cores

import (
	"context"
	"errors"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hafw/hafw/hmd/cores/plan"
)

// claimLoop runs this core's due Pending tasks, rescanning on every task
// change and every Resync. Tasks run in work, which outlives claiming so a
// normal shutdown lets them finish; the loop returns when claiming ends
// and its tasks are done.
func (c *core) claimLoop(claiming, work context.Context) {
	var tasks sync.WaitGroup
	defer tasks.Wait()
	slots := make(chan struct{}, c.cfg.Workers)
	freed := make(chan struct{}, 1)
	wch := c.cli.Watch(clientv3.WithRequireLeader(claiming), c.st.taskKey(""), clientv3.WithPrefix(), clientv3.WithFilterDelete())
	tick := time.NewTicker(c.cfg.Resync)
	defer tick.Stop()
	for {
		c.claimDue(claiming, work, slots, freed, &tasks)
		select {
		case <-claiming.Done():
			return
		case _, ok := <-wch:
			if !ok {
				wch = c.cli.Watch(clientv3.WithRequireLeader(claiming), c.st.taskKey(""), clientv3.WithPrefix(), clientv3.WithFilterDelete())
			}
		case <-freed:
		case <-tick.C:
		}
	}
}

// claimDue claims as many due tasks as there are free worker slots.
func (c *core) claimDue(claiming, work context.Context, slots chan struct{}, freed chan struct{}, tasks *sync.WaitGroup) {
	vs, err := c.st.tasks(claiming)
	if err != nil {
		if claiming.Err() == nil {
			c.log.Warn("scanning tasks", "err", err)
		}
		return
	}
	now := time.Now()
	for _, v := range vs {
		if v.Core != c.cfg.Num || v.Status != plan.Pending || v.IsGroup() || v.Schedule.After(now) || c.isRunning(v.ID) {
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			return
		}
		claimed, ok := c.claim(claiming, v)
		if !ok {
			<-slots
			continue
		}
		c.setRunning(v.ID, true)
		tasks.Go(func() {
			defer func() {
				c.setRunning(v.ID, false)
				<-slots
				select {
				case freed <- struct{}{}:
				default:
				}
			}()
			c.execute(work, claimed)
		})
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
	err := c.st.putTasks(ctx, []versioned{{Task: t, mod: v.mod}}, []clientv3.Cmp{c.aliveGuard()}, nil)
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
