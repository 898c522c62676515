package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
	"github.com/hafw/hafw/internal/tlsid"
)

// TestMetricsServeTheCluster runs a core with --metrics against an
// embedded etcd: the endpoint refuses a scraper without the token, serves
// the pinned certificate, and reports the core up and its tasks by status
// in promtool-clean exposition.
func TestMetricsServeTheCluster(t *testing.T) {
	testenv.RequireCommand(t, "sh", "false")
	ep := freeURL(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := filepath.Join(t.TempDir(), "metrics")
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan string, 1)
	go func() {
		var out bytes.Buffer
		code := run(ctx, []string{"--endpoints", ep, "run", "--num", "1", "--ttl", "2s", "--embedded",
			"--etcd-dir", filepath.Join(t.TempDir(), "etcd"), "--etcd-peer", freeURL(t),
			"--metrics", addr, "--metrics-dir", dir}, &out, &out)
		done <- fmt.Sprintf("exit %d\n%s", code, out.String())
	}()
	t.Cleanup(func() {
		stop()
		select {
		case res := <-done:
			if t.Failed() {
				t.Log(res)
			}
		case <-time.After(30 * time.Second):
		}
	})
	g := []string{"--endpoints", ep}
	netnstest.Eventually(t, 60*time.Second, "core 1 running", func() bool {
		code, out := runCLI(t, append(g, "cores")...)
		return code == 0 && strings.Contains(out, "running")
	})
	mustCLI(t, "task ok added on core 1", append(g, "add", "--id", "ok", "--", "true")...)
	mustCLI(t, "task bad added on core 1", append(g, "add", "--id", "bad", "--", "false")...)

	id, err := tlsid.LoadOrCreate(dir, "unused")
	if err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(filepath.Join(dir, "metrics.token"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "metrics.token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // pinned below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if fp := tlsid.Fingerprint(cs.PeerCertificates[0].Raw); fp != id.Fingerprint {
				return fmt.Errorf("certificate %s, want the pinned %s", fp, id.Fingerprint)
			}
			return nil
		}}}}
	scrape := func(auth string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, auth := range []string{"", "Bearer wrong", "Basic YWRtaW46eA=="} {
		if code, _ := scrape(auth); code != http.StatusUnauthorized {
			t.Errorf("scrape with %q: %d, want 401", auth, code)
		}
	}
	var body string
	// The cluster is read at most every 10 s: wait for a read that has
	// seen both tasks finish.
	netnstest.Eventually(t, 40*time.Second, "the finished tasks in the metrics", func() bool {
		var code int
		code, body = scrape("Bearer " + strings.TrimSpace(string(token)))
		return code == http.StatusOK && strings.Contains(body, `hafw_core_tasks{core="1",status="Succeeded"} 1`) &&
			strings.Contains(body, `hafw_core_tasks{core="1",status="Failed"} 1`)
	})
	for _, want := range []string{"hafw_cores_etcd_up 1", `hafw_core_up{core="1",name="core1",role="device"} 1`,
		"hafw_cores_auto_failover_enabled 1", `hafw_core_failed_over{core="1"} 0`, "go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	testenv.RequireCommand(t, "promtool")
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
