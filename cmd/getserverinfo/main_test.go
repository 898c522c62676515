package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/api"
)

func TestHMDDown(t *testing.T) {
	dir := t.TempDir()
	var out, errb strings.Builder
	err := run([]string{"-socket", filepath.Join(dir, "hmd.sock"), "-control", filepath.Join(dir, "initagent.sock")}, &out, &errb)
	if err != nil || out.String() != "Health Monitor is not running\n" {
		t.Errorf("err %v, output %q", err, out.String())
	}
}

// Dormant is "not serving": a secondary in FAILOVER_ACTIVE serves, a
// primary that handed over does not.
func TestServing(t *testing.T) {
	for _, c := range []struct {
		name string
		st   api.Status
		want bool
	}{
		{"unpaired primary", api.Status{Role: "primary"}, true},
		{"unpaired secondary", api.Status{Role: "secondary"}, false},
		{"standby secondary", api.Status{Role: "secondary", Peers: []api.PeerStatus{{State: "SECONDARY_ACTIVE"}}}, false},
		{"secondary in failover", api.Status{Role: "secondary", Peers: []api.PeerStatus{{State: "FAILOVER_ACTIVE", OwnsVIP: true}}}, true},
		{"terminated primary", api.Status{Role: "primary", Peers: []api.PeerStatus{{State: "TERMINATED"}}}, false},
		{"N:1 secondary serving one of two", api.Status{Role: "secondary", Peers: []api.PeerStatus{{}, {OwnsVIP: true}}}, true},
	} {
		if got := serving(c.st); got != c.want {
			t.Errorf("%s: serving %v, want %v", c.name, got, c.want)
		}
	}
}

func TestDirSize(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "3"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, size := range map[string]int{"3/instance.db": 3 << 20, "3/quarantine.log": 1 << 20} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got := dirSize(dir) >> 20; got != 4 {
		t.Errorf("dirSize %d MiB, want 4", got)
	}
	if got := dirSize(filepath.Join(dir, "missing")); got != 0 {
		t.Errorf("a missing directory: %d", got)
	}
}

// consoleHMD answers status and the console's sessions; the other routes
// of api.Backend are not asked by getserverinfo.
type consoleHMD struct {
	api.Backend
	sessions []api.Session
}

func (consoleHMD) Status(context.Context) (api.Status, error) {
	return api.Status{Running: true, Role: "primary", Version: "1.0", HealthMonitorIP: "10.48.39.238", UDI: "PID:V01:SN1"}, nil
}

func (h consoleHMD) Sessions() []api.Session { return h.sessions }

// TestActiveSessions: the report lists the sessions hmd's local API
// answers, in the report's time zone, and says when there are none.
func TestActiveSessions(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2015, 3, 8, 11, 44, 54, 0, time.UTC)
	for _, c := range []struct {
		sessions []api.Session
		want     string
	}{
		{[]api.Session{{ID: 7, User: api.AdminUser, UserID: api.AdminUserID, IP: "10.48.39.225", Started: at, LastAccess: at.Add(time.Hour)}},
			"Active Sessions\n-----------------\nSession ID: 7\nSession User ID: 1\nSession IP Address: 10.48.39.225\nSession start time: " + at.Local().Format("Mon Jan 02 15:04:05 MST 2006") + "\n"},
		{nil, "Active Sessions\n-----------------\nNo active sessions\n"},
	} {
		sock := filepath.Join(dir, "hmd.sock")
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: api.NewHandler(consoleHMD{sessions: c.sessions}, api.Local{}, slog.New(slog.DiscardHandler))}
		go srv.Serve(ln)
		var out, errb strings.Builder
		err = run([]string{"-socket", sock, "-control", filepath.Join(dir, "initagent.sock"), "-instance-dir", dir}, &out, &errb)
		srv.Close()
		if err != nil || !strings.Contains(out.String(), c.want) {
			t.Errorf("err %v, report lacks %q:\n%s", err, c.want, out.String())
		}
	}
}
