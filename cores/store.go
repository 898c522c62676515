// Package cores runs horizontal core failover (the second seed) on
// etcd: cores register with a lease, claim tasks in transactions, and the
// surviving cores fail a stopped core over exactly once per incarnation.
// The decisions themselves are in the pure package plan; this package only
// reads snapshots from etcd and applies plans with compare-and-swap.
//
// Key layout under a prefix (default "/hafw/cores/"):
//
//	meta/core/<num>        plan.Core of the last incarnation (persistent)
//	meta/alive/<num>       the incarnation's lease ID, bound to that lease
//	meta/shutdown/<num>    plan.Shutdown, the normal-shutdown announcement
//	meta/handled/<num>     lease ID of the incarnation already failed over
//	meta/lock/<num>        the failover handler's lease, bound to it
//	meta/options           plan.Options, watched by every core
//	meta/partition/<name>  owning core number (core binding)
//	task/<id>              plan.Task (binary, plan.Task.AppendBinary)
//	event/<key>            Event
package cores

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hafw/hafw/cores/plan"
)

// DefaultPrefix is where the cluster keeps its keys.
const DefaultPrefix = "/hafw/cores/"

// defaultTxnOps is how many tasks one transaction writes at first. Fewer,
// larger transactions are what makes a 100k-task failover fast (each raft
// round and bbolt commit costs about the same whatever its size); a server
// with smaller limits (etcd's defaults: --max-txn-ops 128,
// --max-request-bytes 1.5 MiB) rejects such a transaction as a whole, and
// the store then halves its batch size until the server accepts it.
const defaultTxnOps = 1024

// putConcurrency is how many task batches are in flight at once.
const putConcurrency = 16

// ErrNotFound is returned for a task or core that does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a compare-and-swap lost against a concurrent
// writer; callers re-read and retry.
var ErrConflict = errors.New("concurrent update")

// Store is the typed view of the cluster's keys.
type Store struct {
	cli    *clientv3.Client
	prefix string
	// txnOps is the current batch size: defaultTxnOps until the server
	// refuses a transaction as too large, then what it accepted.
	txnOps atomic.Int64
}

// NewStore uses cli with prefix (DefaultPrefix if empty).
func NewStore(cli *clientv3.Client, prefix string) *Store {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	s := &Store{cli: cli, prefix: prefix}
	s.txnOps.Store(defaultTxnOps)
	return s
}

// tooLarge reports whether the server (or the client's send limit) refused
// a transaction for its size alone; nothing of it was applied, so the same
// writes may be retried in smaller transactions.
func tooLarge(err error) bool {
	return errors.Is(err, rpctypes.ErrTooManyOps) || errors.Is(err, rpctypes.ErrRequestTooLarge) ||
		status.Code(err) == codes.ResourceExhausted
}

// batches commits items [0,n) in consecutive ranges of at most the current
// batch size less reserve (room for the guards every transaction carries),
// up to concurrency of them in flight: independent transactions pipeline
// through raft. A range refused as too large is split in halves, the
// store's batch size shrinks to match, and the halves are committed in
// turn, so a server with small limits costs speed, never correctness.
func (s *Store) batches(ctx context.Context, n, reserve, concurrency int, commit func(ctx context.Context, lo, hi int) error) error {
	per := s.batchSize(reserve)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		g.Go(func() error { return s.commitRange(gctx, lo, hi, reserve, commit) })
	}
	return g.Wait()
}

// batchSize is how many items a transaction with reserve guards carries.
func (s *Store) batchSize(reserve int) int { return max(int(s.txnOps.Load())-reserve, 1) }

func (s *Store) commitRange(ctx context.Context, lo, hi, reserve int, commit func(ctx context.Context, lo, hi int) error) error {
	err := commit(ctx, lo, hi)
	if !tooLarge(err) || hi-lo <= 1 {
		return err
	}
	half := (hi - lo) / 2
	for {
		cur := s.txnOps.Load()
		if cur <= int64(half+reserve) || s.txnOps.CompareAndSwap(cur, int64(half+reserve)) {
			break
		}
	}
	if err := s.commitRange(ctx, lo, lo+half, reserve, commit); err != nil {
		return err
	}
	return s.commitRange(ctx, lo+half, hi, reserve, commit)
}

func (s *Store) metaKey(kind string, num int) string {
	return s.prefix + "meta/" + kind + "/" + strconv.Itoa(num)
}

// aliveGuards hold while every one of cores is registered alive. A
// failover that moves tasks onto a core that dies meanwhile must stop:
// its later writes would land after the target's own failover had read
// the target's tasks, and strand them on a dead core.
func (s *Store) aliveGuards(cores []int) []clientv3.Cmp {
	out := make([]clientv3.Cmp, 0, len(cores))
	for _, n := range cores {
		out = append(out, clientv3.Compare(clientv3.CreateRevision(s.metaKey("alive", n)), "!=", 0))
	}
	return out
}

func (s *Store) optionsKey() string              { return s.prefix + "meta/options" }
func (s *Store) partitionKey(name string) string { return s.prefix + "meta/partition/" + name }
func (s *Store) taskKey(id string) string        { return s.prefix + "task/" + id }
func (s *Store) eventKey(k string) string        { return s.prefix + "event/" + k }

// Event is one entry of the event log, with the seed's texts.
type Event struct {
	Time time.Time `json:"time"`
	Text string    `json:"text"`
	// Core is the core the event is about; By the core that recorded it.
	Core   int    `json:"core"`
	By     int    `json:"by"`
	Detail string `json:"detail,omitempty"`
}

// Snapshot is everything the failover decision needs, read at one revision.
type Snapshot struct {
	Rev        int64
	Cores      []plan.Core
	Alive      map[int]int64 // core number → lease of the live incarnation
	Shutdowns  map[int]plan.Shutdown
	Handled    map[int]int64
	Options    plan.Options
	Partitions map[string]int
}

// Running lists the numbers of live cores.
func (sn Snapshot) Running() []int {
	var out []int
	for n := range sn.Alive {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// Snapshot reads the whole meta tree in one request.
func (s *Store) Snapshot(ctx context.Context) (Snapshot, error) {
	resp, err := s.cli.Get(ctx, s.prefix+"meta/", clientv3.WithPrefix())
	if err != nil {
		return Snapshot{}, fmt.Errorf("reading cluster state: %w", err)
	}
	sn := Snapshot{Rev: resp.Header.Revision, Alive: map[int]int64{}, Shutdowns: map[int]plan.Shutdown{},
		Handled: map[int]int64{}, Options: plan.DefaultOptions(), Partitions: map[string]int{}}
	for _, kv := range resp.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), s.prefix+"meta/")
		kind, name, _ := strings.Cut(rest, "/")
		if kind == "options" {
			if err := json.Unmarshal(kv.Value, &sn.Options); err != nil {
				return Snapshot{}, fmt.Errorf("decoding options: %w", err)
			}
			continue
		}
		if kind == "partition" {
			n, err := strconv.Atoi(string(kv.Value))
			if err != nil {
				return Snapshot{}, fmt.Errorf("decoding partition %s: %w", name, err)
			}
			sn.Partitions[name] = n
			continue
		}
		num, err := strconv.Atoi(name)
		if err != nil {
			continue // not ours: ignore rather than fail the whole cluster
		}
		switch kind {
		case "core":
			var c plan.Core
			if err := json.Unmarshal(kv.Value, &c); err != nil {
				return Snapshot{}, fmt.Errorf("decoding core %d: %w", num, err)
			}
			sn.Cores = append(sn.Cores, c)
		case "alive":
			sn.Alive[num] = kv.Lease
		case "shutdown":
			var sd plan.Shutdown
			if err := json.Unmarshal(kv.Value, &sd); err != nil {
				return Snapshot{}, fmt.Errorf("decoding shutdown of core %d: %w", num, err)
			}
			sn.Shutdowns[num] = sd
		case "handled":
			l, err := strconv.ParseInt(string(kv.Value), 10, 64)
			if err != nil {
				return Snapshot{}, fmt.Errorf("decoding handled mark of core %d: %w", num, err)
			}
			sn.Handled[num] = l
		}
	}
	sort.Slice(sn.Cores, func(i, j int) bool { return sn.Cores[i].Num < sn.Cores[j].Num })
	return sn, nil
}

// SetOptions validates and stores the cluster-wide options; every core
// watches the key and applies them at once (the seed's "reload server
// options ... synchronised to the other cores").
func (s *Store) SetOptions(ctx context.Context, o plan.Options) error {
	if err := o.Validate(); err != nil {
		return fmt.Errorf("refusing options: %w", err)
	}
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encoding options: %w", err)
	}
	if _, err := s.cli.Put(ctx, s.optionsKey(), string(b)); err != nil {
		return fmt.Errorf("storing options: %w", err)
	}
	return nil
}

// versioned is a task with the revision it was read at, for CAS writes.
type versioned struct {
	plan.Task
	mod int64
}

// AddTasks stores new tasks, many per transaction; it fails, storing
// none of the offending batch, if any ID exists or a task is invalid.
func (s *Store) AddTasks(ctx context.Context, ts ...plan.Task) error {
	vals := make([]string, len(ts))
	for i, t := range ts {
		if err := t.Validate(); err != nil {
			return fmt.Errorf("refusing task: %w", err)
		}
		b, err := marshalTask(t)
		if err != nil {
			return err
		}
		vals[i] = b
	}
	return s.batches(ctx, len(ts), 0, 1, func(ctx context.Context, lo, hi int) error {
		cmps := make([]clientv3.Cmp, 0, hi-lo)
		ops := make([]clientv3.Op, 0, hi-lo)
		for i := lo; i < hi; i++ {
			k := s.taskKey(ts[i].ID)
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(k), "=", 0))
			ops = append(ops, clientv3.OpPut(k, vals[i]))
		}
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
		if err != nil {
			if tooLarge(err) {
				return err // unwrapped: batches retries smaller
			}
			return fmt.Errorf("storing %d tasks: %w", hi-lo, err)
		}
		if !resp.Succeeded {
			return fmt.Errorf("storing tasks %s…: a task with one of these IDs already exists", ts[lo].ID)
		}
		return nil
	})
}

// Tasks returns every task matching f, sorted by ID.
func (s *Store) Tasks(ctx context.Context, f plan.Filter) ([]plan.Task, error) {
	vs, _, err := s.tasks(ctx, f.Match)
	if err != nil {
		return nil, err
	}
	out := make([]plan.Task, len(vs))
	for i, v := range vs {
		out[i] = v.Task
	}
	return out, nil
}

// tasks reads the tasks that keep accepts (all if keep is nil) with their
// revisions, sorted by ID, and the revision of the consistent read, from
// which a watch continues.
func (s *Store) tasks(ctx context.Context, keep func(plan.Task) bool) ([]versioned, int64, error) {
	var all []versioned
	rev, err := s.eachTaskPage(ctx, keep, func(page []versioned) error {
		all = append(all, page...)
		return nil
	})
	return all, rev, err
}

// taskPage is how many tasks one range request reads: a large table never
// needs one huge response, and the first page is decoded (and, in a
// failover, written) while the next is fetched.
const taskPage = 4096

// eachTaskPage reads the tasks at one revision, page by page, and hands
// fn the tasks of each page that keep accepts (all if keep is nil), in ID
// order, one page at a time. Each page is decoded in its own goroutine
// while the next one is fetched. It returns the revision of the read.
func (s *Store) eachTaskPage(ctx context.Context, keep func(plan.Task) bool, fn func([]versioned) error) (int64, error) {
	g, gctx := errgroup.WithContext(ctx)
	// Each page's decoder delivers on its own channel; the channels are
	// queued in key order, so pages reach fn in order however the
	// decoders are scheduled.
	decoded := make(chan chan []versioned, 4)
	g.Go(func() error {
		for ch := range decoded {
			vs, ok := <-ch
			if !ok {
				return nil // its decoder failed, which g reports
			}
			if err := fn(vs); err != nil {
				return err
			}
		}
		return nil
	})
	var rev int64
	g.Go(func() error {
		defer close(decoded)
		start, end := s.taskKey(""), clientv3.GetPrefixRangeEnd(s.taskKey(""))
		for {
			opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(taskPage)}
			if rev != 0 {
				opts = append(opts, clientv3.WithRev(rev))
			}
			resp, err := s.cli.Get(gctx, start, opts...)
			if err != nil {
				return fmt.Errorf("reading tasks: %w", err)
			}
			rev = resp.Header.Revision
			ch := make(chan []versioned, 1)
			select {
			case decoded <- ch:
			case <-gctx.Done():
				return gctx.Err()
			}
			g.Go(func() error {
				defer close(ch)
				vs := make([]versioned, 0, len(resp.Kvs))
				for _, kv := range resp.Kvs {
					t, err := plan.DecodeTask(kv.Value)
					if err != nil {
						return fmt.Errorf("decoding task %s: %w", kv.Key, err)
					}
					if keep == nil || keep(t) {
						vs = append(vs, versioned{Task: t, mod: kv.ModRevision})
					}
				}
				ch <- vs
				return nil
			})
			if !resp.More || len(resp.Kvs) == 0 {
				return nil
			}
			start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		}
	})
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return rev, nil
}

func (s *Store) task(ctx context.Context, id string) (versioned, error) {
	resp, err := s.cli.Get(ctx, s.taskKey(id))
	if err != nil {
		return versioned{}, fmt.Errorf("reading task %s: %w", id, err)
	}
	if len(resp.Kvs) == 0 {
		return versioned{}, fmt.Errorf("task %s: %w", id, ErrNotFound)
	}
	t, err := plan.DecodeTask(resp.Kvs[0].Value)
	if err != nil {
		return versioned{}, fmt.Errorf("decoding task %s: %w", id, err)
	}
	return versioned{Task: t, mod: resp.Kvs[0].ModRevision}, nil
}

// Task reads one task.
func (s *Store) Task(ctx context.Context, id string) (plan.Task, error) {
	v, err := s.task(ctx, id)
	return v.Task, err
}

// putTasks writes new task values in batches, every batch guarded by
// guards (e.g. "I still hold the failover lock"); extra ops are committed,
// under the same guards, after every batch succeeded. Batches are
// independent, so they are sent concurrently: etcd pipelines them through
// raft, which is what makes a 100k-task failover fast. It returns
// ErrConflict if any batch lost.
//
// Each task is also compared on the revision it was read at, unless
// fenced: then the guards alone must exclude every other writer of these
// tasks (the failover's lock and the dead core's absence, see
// core.failover), and the per-task compare — a third of what etcd spends
// applying a 100k-task failover — is left out.
func (s *Store) putTasks(ctx context.Context, ts []versioned, fenced bool, guards []clientv3.Cmp, extra []clientv3.Op) error {
	w := s.newTaskWrites(ctx, fenced, guards)
	w.add(ts)
	return w.finish(ctx, extra)
}

// taskWrites is putTasks for writes that arrive in parts (a failover
// planning page by page): full batches are sent as soon as they are
// complete, up to putConcurrency in flight; add blocks while that many are.
type taskWrites struct {
	s        *Store
	fenced   bool
	guards   []clientv3.Cmp
	g        *errgroup.Group
	gctx     context.Context
	pending  []versioned
	conflict atomic.Bool
}

func (s *Store) newTaskWrites(ctx context.Context, fenced bool, guards []clientv3.Cmp) *taskWrites {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(putConcurrency)
	return &taskWrites{s: s, fenced: fenced, guards: guards, g: g, gctx: gctx}
}

// add queues ts and sends every full batch.
func (w *taskWrites) add(ts []versioned) {
	w.pending = append(w.pending, ts...)
	per := w.s.batchSize(len(w.guards))
	for len(w.pending) >= per {
		w.send(w.pending[:per:per])
		w.pending = w.pending[per:]
	}
}

func (w *taskWrites) send(batch []versioned) {
	w.g.Go(func() error {
		return w.s.commitRange(w.gctx, 0, len(batch), len(w.guards), func(ctx context.Context, lo, hi int) error {
			return w.commit(ctx, batch[lo:hi])
		})
	})
}

func (w *taskWrites) commit(ctx context.Context, ts []versioned) error {
	cmps := w.guards
	if !w.fenced {
		cmps = append(make([]clientv3.Cmp, 0, len(w.guards)+len(ts)), w.guards...)
	}
	ops := make([]clientv3.Op, 0, len(ts))
	for _, v := range ts {
		b, err := marshalTask(v.Task)
		if err != nil {
			return err
		}
		k := w.s.taskKey(v.ID)
		if !w.fenced {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", v.mod))
		}
		ops = append(ops, clientv3.OpPut(k, b))
	}
	resp, err := w.s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		if tooLarge(err) {
			return err // unwrapped: commitRange retries smaller
		}
		return fmt.Errorf("writing %d tasks: %w", len(ts), err)
	}
	if !resp.Succeeded {
		w.conflict.Store(true)
	}
	return nil
}

// wait sends what is left and waits for every batch.
func (w *taskWrites) wait() error {
	if len(w.pending) > 0 {
		w.send(w.pending)
		w.pending = nil
	}
	if err := w.g.Wait(); err != nil {
		return err
	}
	if w.conflict.Load() {
		return ErrConflict
	}
	return nil
}

// finish waits for every batch, then commits extra under the same guards.
func (w *taskWrites) finish(ctx context.Context, extra []clientv3.Op) error {
	if err := w.wait(); err != nil {
		return err
	}
	if len(extra) == 0 {
		return nil
	}
	resp, err := w.s.cli.Txn(ctx).If(w.guards...).Then(extra...).Commit()
	if err != nil {
		return fmt.Errorf("writing %d keys: %w", len(extra), err)
	}
	if !resp.Succeeded {
		return ErrConflict
	}
	return nil
}

// unlocked holds while no failover of core num is under way. Every write
// of a task outside the failover and outside the owning core's own claims
// carries it for the task's core, which is what lets the failover write
// without per-task compares: while it holds the lock, nobody else can
// change the tasks it read.
func (s *Store) unlocked(num int) clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(s.metaKey("lock", num)), "=", 0)
}

// waitUnlocked returns once no failover of core num is under way (at
// once if none is). A failover holds the lock for seconds at most, or
// until its handler's lease expires if the handler dies.
func (s *Store) waitUnlocked(ctx context.Context, num int) error {
	k := s.metaKey("lock", num)
	resp, err := s.cli.Get(ctx, k)
	if err != nil {
		return fmt.Errorf("reading failover lock of core %d: %w", num, err)
	}
	if len(resp.Kvs) == 0 {
		return nil
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for wr := range s.cli.Watch(wctx, k, clientv3.WithRev(resp.Header.Revision+1)) {
		if err := wr.Err(); err != nil {
			return fmt.Errorf("watching failover lock of core %d: %w", num, err)
		}
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypeDelete {
				return nil
			}
		}
	}
	return fmt.Errorf("waiting for the failover of core %d: %w", num, context.Cause(ctx))
}

// UpdateTask applies change to a task with compare-and-swap, re-reading on
// conflict. change returns false to leave the task alone (then
// UpdateTask returns the unchanged task and ok=false). While a failover
// of the task's core is under way it waits for it to finish.
func (s *Store) UpdateTask(ctx context.Context, id string, change func(plan.Task) (plan.Task, bool)) (plan.Task, bool, error) {
	for {
		v, err := s.task(ctx, id)
		if err != nil {
			return plan.Task{}, false, err
		}
		nt, ok := change(v.Task)
		if !ok {
			return v.Task, false, nil
		}
		err = s.putTasks(ctx, []versioned{{Task: nt, mod: v.mod}}, false, []clientv3.Cmp{s.unlocked(v.Core)}, nil)
		if errors.Is(err, ErrConflict) {
			if err := s.waitUnlocked(ctx, v.Core); err != nil {
				return plan.Task{}, false, err
			}
			continue
		}
		if err != nil {
			return plan.Task{}, false, err
		}
		return nt, true, nil
	}
}

// AssignPartition makes core the owner of partition (operator's site
// reassignment; failback in core binding) and moves the partition's
// unfinished tasks with it.
func (s *Store) AssignPartition(ctx context.Context, partition string, core int) (int, error) {
	if partition == "" || strings.Contains(partition, "/") || core < 1 {
		return 0, fmt.Errorf("assigning partition %q to core %d: invalid", partition, core)
	}
	for {
		vs, _, err := s.tasks(ctx, nil)
		if err != nil {
			return 0, err
		}
		var moved []versioned
		var from []int // the cores the tasks move from
		for _, v := range vs {
			if v.Partition == partition && v.Core != core && !v.Status.Terminal() && v.Status != plan.Running && !v.IsGroup() {
				if !slices.Contains(from, v.Core) {
					from = append(from, v.Core)
				}
				v.Core = core
				moved = append(moved, v)
			}
		}
		guards := make([]clientv3.Cmp, 0, len(from))
		for _, n := range from {
			guards = append(guards, s.unlocked(n))
		}
		err = s.putTasks(ctx, moved, false, guards, []clientv3.Op{clientv3.OpPut(s.partitionKey(partition), strconv.Itoa(core))})
		if errors.Is(err, ErrConflict) {
			for _, n := range from {
				if err := s.waitUnlocked(ctx, n); err != nil {
					return 0, err
				}
			}
			continue
		}
		return len(moved), err
	}
}

// AddEventOnce records ev under key unless an event with that key exists,
// so that a failover resumed by another core does not log twice.
func (s *Store) AddEventOnce(ctx context.Context, key string, ev Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding event: %w", err)
	}
	k := s.eventKey(key)
	if _, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, string(b))).Commit(); err != nil {
		return fmt.Errorf("recording event %q: %w", ev.Text, err)
	}
	return nil
}

func (s *Store) eventOp(key string, ev Event) (clientv3.Op, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return clientv3.Op{}, fmt.Errorf("encoding event: %w", err)
	}
	return clientv3.OpPut(s.eventKey(key), string(b)), nil
}

// Events returns the event log, oldest first.
func (s *Store) Events(ctx context.Context) ([]Event, error) {
	resp, err := s.cli.Get(ctx, s.eventKey(""), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("reading events: %w", err)
	}
	out := make([]Event, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var ev Event
		if err := json.Unmarshal(kv.Value, &ev); err != nil {
			return nil, fmt.Errorf("decoding event %s: %w", kv.Key, err)
		}
		out = append(out, ev)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// marshalTask is the stored form of t (plan.Task.AppendBinary).
func marshalTask(t plan.Task) (string, error) {
	b, err := t.AppendBinary(make([]byte, 0, 128))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// refreshGroup sets a group task's status from its children's. The group
// stays with its core (also a stopped one, per the seed); whichever core
// finishes a child updates it.
func (s *Store) refreshGroup(ctx context.Context, id string) error {
	_, _, err := s.UpdateTask(ctx, id, func(g plan.Task) (plan.Task, bool) {
		sts := make([]plan.Status, 0, len(g.Children))
		for _, cid := range g.Children {
			ch, err := s.task(ctx, cid)
			if err != nil {
				sts = append(sts, plan.Pending) // a missing child keeps the group open
				continue
			}
			sts = append(sts, ch.Status)
		}
		st := plan.GroupStatus(sts)
		if st == g.Status {
			return g, false
		}
		g.Status = st
		if st.Terminal() {
			g.Finished = time.Now().UTC()
		}
		return g, true
	})
	return err
}
