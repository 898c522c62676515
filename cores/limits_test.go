package cores

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/hafw/hafw/cores/plan"
)

// TestBatchesShrinkToServerLimits runs the store against members with
// etcd's default limits, as an external cluster started without the
// documented flags would have: too many operations in one transaction, and
// too many bytes in one request. Every task must still be stored and moved
// exactly once, with the batch size shrunk to what the server accepts.
func TestBatchesShrinkToServerLimits(t *testing.T) {
	for _, tc := range []struct {
		name            string
		maxOps, maxReq  uint
		n, outputBytes  int
		wantAtMostBatch int64
	}{
		{name: "max-txn-ops", maxOps: 128, n: 1500, wantAtMostBatch: 128},
		{name: "max-request-bytes", maxOps: 100000, maxReq: 1536 << 10, n: 1200, outputBytes: 3000, wantAtMostBatch: 1536 << 10 / 3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ports := freePorts(t, 2)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			e, err := StartEtcd(ctx, EtcdMember{Name: "lim", Dir: filepath.Join(t.TempDir(), "etcd"),
				Client: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), Peer: fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
				MaxTxnOps: tc.maxOps, MaxRequestBytes: tc.maxReq})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(e.Close)
			cli, err := clientv3.New(clientv3.Config{Endpoints: []string{fmt.Sprintf("http://127.0.0.1:%d", ports[0])},
				DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cli.Close() })
			st := NewStore(cli, "/lim/")
			ts := make([]plan.Task, tc.n)
			for i := range ts {
				ts[i] = plan.Task{ID: fmt.Sprintf("l%05d", i), Command: []string{"true"}, Core: 1, Status: plan.Pending,
					Partition: "site", Output: strings.Repeat("x", tc.outputBytes)}
			}
			if err := st.AddTasks(ctx, ts...); err != nil {
				t.Fatalf("adding %d tasks: %v", tc.n, err)
			}
			if got := st.txnOps.Load(); got > tc.wantAtMostBatch {
				t.Errorf("batch size after adding = %d, want at most %d", got, tc.wantAtMostBatch)
			}
			// A fresh store starts large again and must shrink on the
			// concurrent write path too.
			st = NewStore(cli, "/lim/")
			moved, err := st.AssignPartition(ctx, "site", 2)
			if err != nil {
				t.Fatalf("moving the partition: %v", err)
			}
			if moved != tc.n {
				t.Errorf("moved %d tasks, want %d", moved, tc.n)
			}
			all, err := st.Tasks(ctx, plan.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != tc.n {
				t.Fatalf("%d tasks stored, want %d", len(all), tc.n)
			}
			// Each task was written twice: created, then moved once.
			resp, err := cli.Get(ctx, st.taskKey(""), clientv3.WithPrefix())
			if err != nil {
				t.Fatal(err)
			}
			for _, kv := range resp.Kvs {
				if kv.Version != 2 {
					t.Fatalf("task %s written %d times, want 2", kv.Key, kv.Version)
				}
			}
			for _, task := range all {
				if task.Core != 2 {
					t.Fatalf("task %s on core %d after the move, want 2", task.ID, task.Core)
				}
			}
			if got := st.txnOps.Load(); got > tc.wantAtMostBatch {
				t.Errorf("batch size after moving = %d, want at most %d", got, tc.wantAtMostBatch)
			}
		})
	}
}
