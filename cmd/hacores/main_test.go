package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/internal/testenv"
)

func freeURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "http://" + l.Addr().String()
}

// runCLI runs hacores in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, args, &out, &errb)
	return code, out.String() + errb.String()
}

func mustCLI(t *testing.T, want string, args ...string) string {
	t.Helper()
	code, out := runCLI(t, args...)
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("hacores %s: exit %d, output:\n%s\nwant it to contain %q", strings.Join(args, " "), code, out, want)
	}
	return out
}

// TestOperatorWorkflow runs a core with an embedded single-member etcd
// (the single-machine setup) and drives every operator command against it.
func TestOperatorWorkflow(t *testing.T) {
	testenv.RequireCommand(t, "sh", "false")
	ep := freeURL(t)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan string, 1)
	go func() {
		var out bytes.Buffer
		code := run(ctx, []string{"--endpoints", ep, "run", "--num", "1", "--ttl", "2s", "--embedded",
			"--etcd-dir", filepath.Join(t.TempDir(), "etcd"), "--etcd-peer", freeURL(t)}, &out, &out)
		done <- fmt.Sprintf("exit %d\n%s", code, out.String())
	}()
	t.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
	})
	g := []string{"--endpoints", ep}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code, out := runCLI(t, append(g, "cores")...); code == 0 && strings.Contains(out, "running") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("core 1 never showed up as running")
		}
		time.Sleep(200 * time.Millisecond)
	}

	mustCLI(t, "task ok added on core 1", append(g, "add", "--id", "ok", "--", "sh", "-c", "echo hello")...)
	mustCLI(t, "task bad added on core 1", append(g, "add", "--id", "bad", "--", "false")...)
	mustCLI(t, "task later added on core 1", append(g, "add", "--id", "later", "--at", "+2h", "--", "true")...)
	mustCLI(t, "task crit added", append(g, "add", "--id", "crit", "--critical", "--at", "+1h", "--", "true")...)
	if code, out := runCLI(t, append(g, "add", "--id", "ok", "--", "true")...); code == 0 {
		t.Errorf("a duplicate task ID was accepted: %s", out)
	}
	if code, _ := runCLI(t, append(g, "add", "--id", "x")...); code != 2 {
		t.Errorf("a task without a command: exit %d, want 2", code)
	}

	deadline = time.Now().Add(30 * time.Second)
	for {
		_, out := runCLI(t, append(g, "tasks", "--status", "Failed", "--failure", "Command Failed")...)
		if strings.Contains(out, "bad") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task bad never failed:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	out := mustCLI(t, "ok", append(g, "tasks", "--status", "Succeeded")...)
	if strings.Contains(out, "bad") {
		t.Errorf("search by status returned other statuses:\n%s", out)
	}
	mustCLI(t, "1 tasks re-run", append(g, "rerun", "bad")...)
	mustCLI(t, "not Failed", append(g, "rerun", "ok")...)

	out = mustCLI(t, "1 tasks paused", append(g, "pause", "--hours", "4")...)
	if !strings.Contains(out, "paused later") || strings.Contains(out, "crit") {
		t.Errorf("pause should take the non-critical task only:\n%s", out)
	}
	mustCLI(t, "later  Paused", append(g, "tasks", "--core", "1", "--since", "now", "--until", "+3h")...)
	mustCLI(t, "later: resumed", append(g, "resume", "later")...)

	mustCLI(t, "distributed/enable_auto_failover = false", append(g, "options", "--enable-auto-failover=false", "--maintenance-window", "1m", "--override", "1=4,2")...)
	out = mustCLI(t, "maintenance_window = 1m0s", append(g, "options")...)
	if !strings.Contains(out, "distributed/bind_to_core_override_1 = 4,2") {
		t.Errorf("override not stored:\n%s", out)
	}
	if code, _ := runCLI(t, append(g, "options", "--topology", "mesh")...); code != 2 {
		t.Errorf("a bad topology: exit %d, want 2", code)
	}
	mustCLI(t, "partition site-a assigned to core 1", append(g, "partition", "site-a", "1")...)
	mustCLI(t, "site-a", append(g, "cores")...)

	stopped := time.Now()
	stop()
	select {
	case res := <-done:
		done <- res // for the cleanup
		t.Logf("core stopped %v after cancel", time.Since(stopped))
		if !strings.HasPrefix(res, "exit 0") {
			t.Fatalf("core did not stop cleanly:\n%s", res)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("core did not stop after cancel")
	}
}

// TestRemoteEtcdNeedsClientTLS: an etcd endpoint off this host is refused
// unless it is https with a client certificate (task records are commands
// run as root); loopback endpoints may be plain. Before, a plain-HTTP
// remote endpoint was accepted.
func TestRemoteEtcdNeedsClientTLS(t *testing.T) {
	tls := global{cacert: "ca.pem", cert: "c.pem", key: "k.pem"}
	for _, c := range []struct {
		g         global
		endpoints string
		ok        bool
	}{
		{global{}, "http://127.0.0.1:2379", true},
		{global{}, "http://localhost:2379,http://[::1]:2379", true},
		{global{}, "http://10.0.0.1:2379", false},
		{global{}, "https://10.0.0.1:2379", false},
		{global{cacert: "ca.pem"}, "https://10.0.0.1:2379", false},
		{tls, "http://10.0.0.1:2379", false},
		{tls, "https://127.0.0.1:2379,https://10.0.0.1:2379", true},
		{tls, "http://127.0.0.1:2379,http://etcd.example:2379", false},
		{global{}, "10.0.0.1:2379", false},
	} {
		c.g.endpoints = c.endpoints
		cli, _, err := c.g.connect()
		if err == nil {
			cli.Close()
		}
		if c.ok {
			// A loopback or TLS endpoint passes the check; connect may
			// still fail on the files named, never on the check.
			if err != nil && strings.Contains(err.Error(), "not on this host") {
				t.Errorf("%s with %+v: %v", c.endpoints, c.g, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "endpoint") {
			t.Errorf("%s with %+v: %v, want a refusal naming the endpoint", c.endpoints, c.g, err)
		}
	}
}
