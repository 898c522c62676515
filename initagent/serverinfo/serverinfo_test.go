package serverinfo

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/internal/supervise"
	"github.com/hafw/hafw/notify"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/name (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("report differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

func TestFormatSeedLayout(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		t.Fatal(err)
	}
	r := Report{
		HMDRunning:      true,
		Version:         "8.0.110.0",
		HealthMonitorIP: "10.48.39.238",
		Role:            "primary",
		Serving:         true,
		Settings:        Settings{HTTPSPort: 8443, LogLevel: "INFO", EventsKept: 1000, SessionTimeout: 30 * time.Minute},
		DBDiskMB:        17191,
		UDI:             "AIR-MSE-VA-K9:V01:NicoMSE_b950a7c0-b68c-11e4-99d9-005056993b63",
		Services:        []supervise.Status{{Name: "hmd", State: supervise.Running}},
		Started:         time.Date(2015, 3, 8, 11, 40, 32, 0, time.UTC),
		Now:             time.Date(2015, 3, 8, 13, 4, 30, 0, time.UTC),
		Location:        loc,
		Restarts:        1,
		UsedMB:          197,
		TotalMB:         989,
		Sessions: []api.Session{
			{ID: 1, User: "admin", UserID: 1, IP: "10.48.39.238", Started: time.Date(2015, 3, 8, 11, 44, 54, 0, time.UTC), LastAccess: time.Date(2015, 3, 8, 13, 3, 46, 0, time.UTC)},
			{ID: 3, User: "admin", UserID: 1, IP: "10.48.39.225", Started: time.Date(2015, 3, 8, 12, 0, 0, 0, time.UTC), LastAccess: time.Date(2015, 3, 8, 12, 1, 0, 0, time.UTC)},
		},
		TrapDestinations: TrapDestinations([]notify.View{
			{Name: "nms", Address: "10.48.39.225", Version: notify.V2c, Updated: time.Date(2015, 3, 8, 11, 34, 12, 0, time.UTC)},
			{Name: "nms-v3", Address: "10.48.39.226:1162", Version: notify.V3, Updated: time.Date(2015, 3, 8, 11, 35, 0, 0, time.UTC)},
		}),
	}
	var b strings.Builder
	if err := Format(&b, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden", b.String())
	for _, want := range []string{
		"Health Monitor is running\nRetrieving MSE Services status.\nMSE services are up, getting the status\n",
		"Server Config",
		"Version: 8.0.110.0\nHealth Monitor Ip Address: 10.48.39.238\nHigh Availability Role: 1\n",
		"Hw Version: V01\nHw Product Identifier: AIR-MSE-VA-K9\nHw Serial Number: NicoMSE_b950a7c0-b68c-11e4-99d9-005056993b63\n",
		"Service Name: Health Monitor\nService Version: 8.0.110.0\nAdmin Status: Enabled\nOperation Status: Up\n",
		"HTTPS: 8443\nLegacy Port: none\nLog Modules: all\nLog Level: INFO\n",
		"Session timeout in mins: 30\n",
		"Max Memory (MB): 989\nDB disk size (MB): 17191\n",
		"Server start time: Sun Mar 08 12:40:32 CET 2015\nServer current time: Sun Mar 08 14:04:30 CET 2015\n",
		"Server timezone: Europe/Brussels\nServer timezone offset (mins): 60\nRestarts: 1\nUsed Memory (MB): 197\nAllocated Memory (MB): 989\n",
		"-----------------\nActive Sessions\n-----------------\nSession ID: 1\nSession User ID: 1\nSession IP Address: 10.48.39.238\nSession start time: Sun Mar 08 12:44:54 CET 2015\nSession last access time: Sun Mar 08 14:03:46 CET 2015\n\nSession ID: 3\n",
		"Default Trap Destinations\n",
		"Trap Destination - 1\n----------------------\nIP Address: 10.48.39.225\nLast Updated: Sun Mar 08 12:34:12 CET 2015\n",
		"Trap Destination - 2\n----------------------\nIP Address: 10.48.39.226\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	// Order: Server Monitor, Active Sessions, Default Trap Destinations.
	if m, a, d := strings.Index(b.String(), "Server Monitor"), strings.Index(b.String(), "Active Sessions"), strings.Index(b.String(), "Default Trap Destinations"); !(m < a && a < d) {
		t.Errorf("blocks out of the seed's order:\n%s", b.String())
	}
	for _, c := range []struct {
		sessions []api.Session
		want     string
	}{
		{nil, "Active Sessions\n-----------------\nSession list unavailable"},
		{[]api.Session{}, "Active Sessions\n-----------------\nNo active sessions\n---"},
	} {
		r := r
		r.Sessions = c.sessions
		b.Reset()
		Format(&b, r)
		if !strings.Contains(b.String(), c.want) {
			t.Errorf("sessions %#v: report lacks %q:\n%s", c.sessions, c.want, b.String())
		}
	}
	// A secondary that serves (FAILOVER_ACTIVE) is not dormant; one that
	// stands by is.
	r.Role = "secondary"
	b.Reset()
	Format(&b, r)
	if strings.Contains(b.String(), "DORMANT") {
		t.Errorf("a serving secondary is reported dormant:\n%s", b.String())
	}
	r.Serving = false
	r.Services[0].State = supervise.Stopped
	b.Reset()
	Format(&b, r)
	for _, want := range []string{"DORMANT mode", "High Availability Role: 2", "Admin Status: Disabled\nOperation Status: Down"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("secondary report lacks %q", want)
		}
	}
}

func TestFormatHMDDown(t *testing.T) {
	var b strings.Builder
	Format(&b, Report{})
	if b.String() != "Health Monitor is not running\n" {
		t.Errorf("got %q", b.String())
	}
}

func TestParseMemInfo(t *testing.T) {
	used, total, err := ParseMemInfo("MemTotal:        1012736 kB\nMemFree:          100000 kB\nMemAvailable:     811008 kB\n")
	if err != nil || total != 989 || used != 197 {
		t.Errorf("used %d total %d err %v", used, total, err)
	}
	if _, _, err := ParseMemInfo("garbage"); err == nil {
		t.Error("garbage accepted")
	}
}
