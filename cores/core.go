package cores

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hafw/hafw/cores/plan"
)

// Runner executes one task's command; the output is kept with the task.
type Runner interface {
	Run(ctx context.Context, t plan.Task) (output string, err error)
}

// Config describes one core process.
type Config struct {
	Num    int
	Name   string
	Role   plan.Role
	Prefix string
	// TTL is the lease time-to-live: how long after a crash the other cores
	// notice (the detection time). Default 10 s.
	TTL time.Duration
	// Workers is how many tasks run at once. Default 4.
	Workers int
	// Resync is the period of the full rescan that also catches windows
	// closing and schedule times arriving. Default 1 s.
	Resync time.Duration
	// Drain bounds how long a normal shutdown waits for running tasks.
	Drain  time.Duration
	Runner Runner
	Log    *slog.Logger
}

func (c *Config) defaults() error {
	if c.Num < 1 {
		return fmt.Errorf("core number %d: must be at least 1", c.Num)
	}
	if c.Name == "" {
		c.Name = "core" + strconv.Itoa(c.Num)
	}
	if c.Role == "" {
		c.Role = plan.RoleDevice
	}
	if _, err := plan.ParseRole(string(c.Role)); err != nil {
		return err
	}
	if c.Runner == nil {
		return errors.New("core needs a task runner")
	}
	if c.TTL == 0 {
		c.TTL = 10 * time.Second
	}
	if c.TTL < 2*time.Second {
		return fmt.Errorf("lease TTL %v: etcd needs at least 2s", c.TTL)
	}
	if c.Workers == 0 {
		c.Workers = 4
	}
	if c.Resync == 0 {
		c.Resync = time.Second
	}
	if c.Drain == 0 {
		c.Drain = 30 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return nil
}

// ErrLeaseLost is returned by Run when the core's lease expired under it
// (it was cut off from etcd long enough for the others to fail it over).
var ErrLeaseLost = errors.New("core lease lost")

// Run registers the core and runs it until ctx is cancelled, then shuts it
// down normally: it announces the shutdown ("Normal Shutdown of Core"),
// lets running tasks finish within Drain, and gives up its lease. A crash
// (the process killed) leaves the lease to expire: an abnormal shutdown
// that the other cores detect.
func Run(ctx context.Context, cli *clientv3.Client, cfg Config) error {
	if err := cfg.defaults(); err != nil {
		return fmt.Errorf("core configuration: %w", err)
	}
	log := cfg.Log.With("core", cfg.Num)
	for {
		c := &core{cfg: cfg, st: NewStore(cli, cfg.Prefix), cli: cli, log: log}
		err := c.run(ctx)
		if !errors.Is(err, ErrLeaseLost) || ctx.Err() != nil {
			return err
		}
		// Cut off from etcd for longer than the TTL: the others may have
		// failed this incarnation over. Come back as a new one, like a
		// restarted core; its leftovers are settled by recoverOrphans.
		log.Warn("lease lost; registering again as a new incarnation")
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, _ = cli.Revoke(rctx, c.lease)
		cancel()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

type core struct {
	cfg   Config
	st    *Store
	cli   *clientv3.Client
	log   *slog.Logger
	lease clientv3.LeaseID

	mu      sync.Mutex
	running map[string]bool
}

func (c *core) run(ctx context.Context) error {
	grant, err := c.cli.Grant(ctx, int64(c.cfg.TTL/time.Second))
	if err != nil {
		return fmt.Errorf("granting lease: %w", err)
	}
	c.lease = grant.ID
	if err := c.register(ctx); err != nil {
		_, _ = c.cli.Revoke(context.WithoutCancel(ctx), c.lease)
		return err
	}
	c.log.Info("core registered", "name", c.cfg.Name, "role", c.cfg.Role, "lease", int64(c.lease))

	// work lives as long as the lease: losing it stops claiming and
	// cancels running commands, because another core may now own them.
	work, stop := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stop(nil)
	ka, err := c.cli.KeepAlive(work, c.lease)
	if err != nil {
		return fmt.Errorf("keeping lease alive: %w", err)
	}
	go func() {
		for range ka {
		}
		stop(ErrLeaseLost)
	}()

	if err := c.recoverOrphans(work); err != nil {
		c.log.Warn("recovering tasks of an earlier incarnation", "err", err)
	}
	var wg sync.WaitGroup
	claiming, stopClaiming := context.WithCancel(work)
	defer stopClaiming()
	wg.Go(func() { c.watchLoop(claiming) })
	wg.Go(func() { c.claimLoop(claiming, work) })

	select {
	case <-ctx.Done():
	case <-work.Done():
	}
	stopClaiming()
	if context.Cause(work) != nil {
		wg.Wait()
		return fmt.Errorf("core %d: %w", c.cfg.Num, context.Cause(work))
	}
	return c.shutdown(work, stop, &wg)
}

// register claims the core number: it fails if a live incarnation holds it.
func (c *core) register(ctx context.Context) error {
	me := plan.Core{Num: c.cfg.Num, Name: c.cfg.Name, Role: c.cfg.Role, Lease: int64(c.lease)}
	b, err := json.Marshal(me)
	if err != nil {
		return fmt.Errorf("encoding core: %w", err)
	}
	alive := c.st.metaKey("alive", c.cfg.Num)
	resp, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(alive), "=", 0)).Then(
		clientv3.OpPut(alive, strconv.FormatInt(int64(c.lease), 10), clientv3.WithLease(c.lease)),
		clientv3.OpPut(c.st.metaKey("core", c.cfg.Num), string(b)),
	).Commit()
	if err != nil {
		return fmt.Errorf("registering core %d: %w", c.cfg.Num, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("registering core %d: a live core already holds this number", c.cfg.Num)
	}
	return nil
}

// aliveGuard holds only while this incarnation is registered and alive.
func (c *core) aliveGuard() clientv3.Cmp {
	return clientv3.Compare(clientv3.LeaseValue(c.st.metaKey("alive", c.cfg.Num)), "=", c.lease)
}

// recoverOrphans settles tasks this core number was running in an earlier
// incarnation that nobody failed over (a restart inside the window, or
// with failover disabled), by the same rules as a failover onto itself.
func (c *core) recoverOrphans(ctx context.Context) error {
	vs, _, err := c.st.tasks(ctx, func(t plan.Task) bool { return t.Core == c.cfg.Num })
	if err != nil {
		return err
	}
	var fix []versioned
	for _, v := range vs {
		if v.Status == plan.Running && v.ClaimLease != int64(c.lease) && !v.IsGroup() {
			nt, _, _ := plan.AfterCoreLoss(v.Task, c.cfg.Num, time.Now())
			fix = append(fix, versioned{Task: nt, mod: v.mod})
		}
	}
	if len(fix) == 0 {
		return nil
	}
	c.log.Info("settled tasks of an earlier incarnation", "tasks", len(fix))
	if err := c.st.putTasks(ctx, fix, false, []clientv3.Cmp{c.aliveGuard()}, nil); err != nil && !errors.Is(err, ErrConflict) {
		return err
	}
	return nil
}

// shutdown is the normal shutdown: announce, drain, release the lease.
func (c *core) shutdown(work context.Context, stop context.CancelCauseFunc, wg *sync.WaitGroup) error {
	ev := Event{Time: time.Now().UTC(), Text: plan.EventNormalShutdown, Core: c.cfg.Num, By: c.cfg.Num,
		Detail: "core " + c.cfg.Name + " is stopping"}
	sd, err := json.Marshal(plan.Shutdown{Lease: int64(c.lease), At: ev.Time})
	if err != nil {
		return fmt.Errorf("encoding shutdown: %w", err)
	}
	evOp, err := c.st.eventOp(incarnationKey(c.cfg.Num, int64(c.lease), "normal"), ev)
	if err != nil {
		return err
	}
	if _, err := c.cli.Txn(work).If(c.aliveGuard()).Then(
		clientv3.OpPut(c.st.metaKey("shutdown", c.cfg.Num), string(sd)), evOp).Commit(); err != nil {
		c.log.Warn("announcing normal shutdown", "err", err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(c.cfg.Drain):
		c.log.Warn("tasks still running after the drain time; cancelling them")
		stop(errors.New("drain time over"))
		<-done
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(work), 5*time.Second)
	defer cancel()
	if _, err := c.cli.Revoke(rctx, c.lease); err != nil {
		return fmt.Errorf("releasing lease: %w", err)
	}
	c.log.Info("core stopped normally")
	return nil
}

func incarnationKey(num int, lease int64, kind string) string {
	return fmt.Sprintf("%d-%x-%s", num, lease, kind)
}

// watchLoop re-evaluates the failover decision on every change of the meta
// tree (cores, liveness, options) and at least every Resync.
func (c *core) watchLoop(ctx context.Context) {
	wch := c.cli.Watch(clientv3.WithRequireLeader(ctx), c.st.prefix+"meta/", clientv3.WithPrefix())
	tick := time.NewTimer(0)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-wch:
			if !ok {
				wch = c.cli.Watch(clientv3.WithRequireLeader(ctx), c.st.prefix+"meta/", clientv3.WithPrefix())
			}
		case <-tick.C:
		}
		next := c.reconcile(ctx)
		tick.Reset(min(next, c.cfg.Resync))
	}
}

// reconcile fails over every stopped core that is due, and returns how
// soon the next maintenance window closes.
func (c *core) reconcile(ctx context.Context) time.Duration {
	wait := c.cfg.Resync
	sn, err := c.st.Snapshot(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("reading cluster state", "err", err)
		}
		return wait
	}
	now := time.Now()
	for _, dead := range sn.Cores {
		var sd *plan.Shutdown
		if s, ok := sn.Shutdowns[dead.Num]; ok {
			sd = &s
		}
		_, alive := sn.Alive[dead.Num]
		act, until := plan.Decide(dead, alive, sd, sn.Handled[dead.Num], sn.Options, now)
		switch act {
		case plan.WaitWindow:
			wait = min(wait, until.Sub(now))
		case plan.FailAbnormal, plan.FailNormal:
			if err := c.failover(ctx, dead, act, sn); err != nil && ctx.Err() == nil {
				c.log.Warn("failover", "dead", dead.Num, "err", err)
			}
		}
	}
	return max(wait, 10*time.Millisecond)
}

// failover moves the stopped core's work if this core wins the per-core
// lock. The lock is bound to this core's lease, so if this core dies
// midway the lock vanishes and another core resumes; finished work is
// marked "handled" for the incarnation, so the failover happens once.
//
// The task writes carry no per-task compare; two guards fence them
// instead, which is as strict:
//   - the lock's mod revision is the one this attempt wrote (a fencing
//     token): a write of an earlier attempt — this core's, whose reply was
//     lost, or a dead handler's — applied late finds another revision and
//     fails; and this attempt reads the tasks after writing it, so it sees
//     everything written before;
//   - the stopped core's alive key is absent: every write a core makes to
//     its own tasks (claims, results, settling orphans) requires its alive
//     key, so once it is back, the failover stops;
//   - every target core's alive key is present: a target that dies midway
//     stops the failover (the next attempt re-plans), so no task lands on
//     a core whose own failover has already read its tasks.
//
// Every other writer of a task (UpdateTask: operators, group status;
// AssignPartition) requires that no failover of the task's core is under
// way. So from the lock write until the last batch nobody but this attempt
// can change a task the failover read, and writing its planned values
// blindly is what a per-task compare would allow anyway.
func (c *core) failover(ctx context.Context, dead plan.Core, act plan.Action, sn Snapshot) error {
	entered := time.Now()
	lock := c.st.metaKey("lock", dead.Num)
	handled := c.st.metaKey("handled", dead.Num)
	// Take the lock, or rewrite it if it is still ours (a lost reply, e.g.
	// at a leader change, can leave us holding it without knowing, and
	// nobody else may then take it while our lease lives); either way this
	// attempt's fencing token is the revision of that write.
	take := clientv3.OpPut(lock, strconv.Itoa(c.cfg.Num), clientv3.WithLease(c.lease))
	resp, err := c.cli.Txn(ctx).If(
		// not handled since the snapshot that called for this failover
		clientv3.Compare(clientv3.ModRevision(handled), "<", sn.Rev+1),
		c.aliveGuard(),
	).Then(clientv3.OpTxn(
		[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(lock), "=", 0)},
		[]clientv3.Op{take},
		[]clientv3.Op{clientv3.OpTxn(
			[]clientv3.Cmp{clientv3.Compare(clientv3.LeaseValue(lock), "=", c.lease)},
			[]clientv3.Op{take}, nil)},
	)).Commit()
	if err != nil {
		return fmt.Errorf("taking failover lock for core %d: %w", dead.Num, err)
	}
	if !resp.Succeeded {
		return nil // done meanwhile, or we are no longer alive
	}
	if inner := resp.Responses[0].GetResponseTxn(); !inner.Succeeded && !inner.Responses[0].GetResponseTxn().Succeeded {
		return nil // another core handles it
	}
	fence := resp.Header.Revision
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = c.cli.Txn(dctx).If(clientv3.Compare(clientv3.LeaseValue(lock), "=", c.lease)).Then(clientv3.OpDelete(lock)).Commit()
	}()
	guards := []clientv3.Cmp{
		clientv3.Compare(clientv3.ModRevision(lock), "=", fence),
		clientv3.Compare(clientv3.CreateRevision(c.st.metaKey("alive", dead.Num)), "=", 0),
	}
	now := time.Now().UTC()
	if act == plan.FailAbnormal {
		if err := c.st.AddEventOnce(ctx, incarnationKey(dead.Num, dead.Lease, "abnormal"), Event{Time: now,
			Text: plan.EventAbnormalShutdown, Core: dead.Num, By: c.cfg.Num, Detail: "lease of core " + dead.Name + " expired"}); err != nil {
			return err
		}
	}
	mv, err := plan.NewMover(dead, sn.Cores, sn.Running(), sn.Options, now)
	if errors.Is(err, plan.ErrNoTarget) {
		return c.st.AddEventOnce(ctx, incarnationKey(dead.Num, dead.Lease, "nofailover"), Event{Time: now,
			Text: plan.EventNoFailover, Core: dead.Num, By: c.cfg.Num, Detail: err.Error()})
	}
	if err != nil {
		return err
	}
	guards = append(guards, c.st.aliveGuards(mv.Targets())...)
	// Read, plan and write page by page: the first batches are in etcd
	// while later pages are still being read.
	began := time.Now()
	w := c.st.newTaskWrites(ctx, true, guards)
	changed := 0
	_, err = c.st.eachTaskPage(ctx, func(t plan.Task) bool { return t.Core == dead.Num }, func(page []versioned) error {
		writes := make([]versioned, 0, len(page))
		for _, v := range page {
			if nt, ok := mv.Move(v.Task); ok {
				writes = append(writes, versioned{Task: nt})
			}
		}
		changed += len(writes)
		w.add(writes)
		return nil
	})
	read := time.Since(began)
	if err != nil {
		_ = w.wait() // what was sent stays fenced; the next attempt re-reads
		return err
	}
	var parts []string
	for p, owner := range sn.Partitions {
		if owner == dead.Num {
			parts = append(parts, p)
		}
	}
	var extra []clientv3.Op
	for p, to := range mv.Partitions(parts) {
		extra = append(extra, clientv3.OpPut(c.st.partitionKey(p), strconv.Itoa(to)))
	}
	extra = append(extra, clientv3.OpPut(handled, strconv.FormatInt(dead.Lease, 10)))
	if act == plan.FailNormal {
		evOp, err := c.st.eventOp(incarnationKey(dead.Num, dead.Lease, "processed"), Event{Time: now,
			Text: plan.EventProcessedShutdown, Core: dead.Num, By: c.cfg.Num, Detail: fmt.Sprintf("moved %d tasks to cores %v", changed, mv.Targets())})
		if err != nil {
			_ = w.wait()
			return err
		}
		extra = append(extra, evOp)
	}
	err = w.finish(ctx, extra)
	if errors.Is(err, ErrConflict) {
		// Not a race to retry: the lock was lost (this core's lease
		// expired), the stopped core came back, or a target core died.
		// Whoever holds the lock next re-reads and re-plans with the
		// cores alive then; a core that came back keeps what was not
		// moved.
		return fmt.Errorf("moving tasks of core %d: the failover lock was lost, the core came back or a target core %v stopped", dead.Num, mv.Targets())
	}
	if err != nil {
		return fmt.Errorf("moving tasks of core %d: %w", dead.Num, err)
	}
	c.log.Info("failed over core", "dead", dead.Num, "kind", act, "changed", changed, "targets", mv.Targets(),
		"lock", began.Sub(entered), "read", read, "read_write", time.Since(began))
	return nil
}
