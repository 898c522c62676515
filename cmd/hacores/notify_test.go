package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/syslogtest"
)

// TestCoreEventNotifications runs two cores on an embedded etcd; core 1
// has notification settings whose rule sends core events about core2 to
// a syslog collector. Core 2 stops normally; core 1 processes its shutdown
// and the collector receives the task-failover notification for core2.
func TestCoreEventNotifications(t *testing.T) {
	col := syslogtest.Listen(t, "udp", "127.0.0.1:0")
	dir := t.TempDir()
	settings := filepath.Join(dir, "notify.json")
	if err := os.WriteFile(settings, []byte(fmt.Sprintf(`{"destinations":[],"syslog":{"address":%q,"transport":"udp"},
"rules":[{"name":"core2","types":["task-failover","core-down"],"cores":["core2"],"target":"syslog"}]}`, col.Addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	ep := freeURL(t)
	start := func(ctx context.Context, args ...string) chan string {
		done := make(chan string, 1)
		go func() {
			var out bytes.Buffer
			code := run(ctx, append([]string{"--endpoints", ep, "run", "--ttl", "2s"}, args...), &out, &out)
			done <- fmt.Sprintf("exit %d\n%s", code, out.String())
		}()
		return done
	}
	ctx1, stop1 := context.WithCancel(context.Background())
	done1 := start(ctx1, "--num", "1", "--embedded", "--etcd-dir", filepath.Join(dir, "etcd"), "--etcd-peer", freeURL(t), "--notify", settings)
	t.Cleanup(func() {
		stop1()
		select {
		case <-done1:
		case <-time.After(30 * time.Second):
		}
	})
	g := []string{"--endpoints", ep}
	netnstest.Eventually(t, 60*time.Second, "core 1 running", func() bool {
		code, out := runCLI(t, append(g, "cores")...)
		return code == 0 && strings.Contains(out, "running")
	})
	// A short maintenance window: the normal shutdown is processed at once.
	mustCLI(t, "maintenance_window", append(g, "options", "--maintenance-window", "1s")...)
	ctx2, stop2 := context.WithCancel(context.Background())
	done2 := start(ctx2, "--num", "2")
	netnstest.Eventually(t, 60*time.Second, "core 2 running", func() bool {
		_, out := runCLI(t, append(g, "cores")...)
		return strings.Count(out, "running") == 2
	})
	stop2()
	select {
	case <-done2:
	case <-time.After(60 * time.Second):
		t.Fatal("core 2 did not stop")
	}
	t.Cleanup(func() {
		if t.Failed() {
			_, out := runCLI(t, append(g, "events")...)
			t.Logf("events:\n%s\ncollector: %+v %v", out, col.Messages(), col.Malformed())
		}
	})
	netnstest.Eventually(t, 60*time.Second, "core2's task failover at the syslog collector", func() bool {
		for _, m := range col.Messages() {
			if m.MsgID == "task-failover" && strings.Contains(m.StructuredData, `core="core2"`) && m.Host == "core1" {
				return true
			}
		}
		return false
	})
	for _, m := range col.Messages() {
		if !strings.Contains(m.StructuredData, `core="core2"`) {
			t.Errorf("the rule let through an event of another core: %+v", m)
		}
	}
}
