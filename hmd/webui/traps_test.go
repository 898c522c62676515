package webui

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/snmptest"
	"github.com/hafw/hafw/logs"
	"github.com/hafw/hafw/notify"
)

// TestTrapDestinationsPage: the seed's Trap Destinations page adds a
// destination (refusing a malformed one with the API's reasons), never
// shows its secret, and its "Send test trap" button reaches a real
// net-snmp snmptrapd.
func TestTrapDestinationsPage(t *testing.T) {
	svc, err := notify.Open(notify.Options{Path: filepath.Join(t.TempDir(), "notify.json"), Node: "mse1", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	c := newConsole(t)
	s, err := New(Options{Backend: struct {
		*fakeBackend
		*notify.Service
	}{c.b, svc}, Auth: fakeAuth{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return c.now }})
	if err != nil {
		t.Fatal(err)
	}
	c.s = s
	if w := c.get("/ui/traps"); w.Code != http.StatusSeeOther {
		t.Fatalf("page without login: %d", w.Code)
	}
	csrf := c.login()

	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	trapd := snmptest.Start(t, nil, snmptest.Config{Listen: fmt.Sprintf("127.0.0.1:%d", port), Community: "console-secret"})

	w := c.post("/ui/traps/add", url.Values{"csrf": {csrf}, "name": {"nms"}, "address": {"nms.example"}, "version": {"v2c"}})
	page := c.get(w.Header().Get("Location")).Body.String()
	if !strings.Contains(page, "not saved") || !strings.Contains(page, "address: ") || !strings.Contains(page, "community: ") {
		t.Errorf("malformed destination: no reasons on the page:\n%s", page)
	}
	w = c.post("/ui/traps/add", url.Values{"csrf": {csrf}, "name": {"nms"}, "address": {fmt.Sprintf("127.0.0.1:%d", port)}, "version": {"v2c"}, "community": {"console-secret"}})
	page = c.get(w.Header().Get("Location")).Body.String()
	if !strings.Contains(page, "Trap destination nms saved.") || !strings.Contains(page, "<th scope=\"row\">nms</th>") {
		t.Fatalf("saved destination not listed:\n%s", page)
	}
	if strings.Contains(page, "console-secret") {
		t.Error("the page shows the community")
	}
	w = c.post("/ui/traps/test", url.Values{"csrf": {csrf}, "name": {"nms"}})
	if page = c.get(w.Header().Get("Location")).Body.String(); !strings.Contains(page, "sent a test notification") {
		t.Errorf("test button answer:\n%s", page)
	}
	netnstest.Eventually(t, 10*time.Second, "the test trap at snmptrapd", func() bool {
		return strings.Contains(strings.Join(trapd.Traps(), "\n"), "OID: HAFW-MIB::hafwTest")
	})
	if w := c.post("/ui/traps/delete", url.Values{"csrf": {"stale"}, "name": {"nms"}}); w.Code != http.StatusForbidden {
		t.Errorf("delete with a wrong CSRF token: %d", w.Code)
	}
	w = c.post("/ui/traps/delete", url.Values{"csrf": {csrf}, "name": {"nms"}})
	if page = c.get(w.Header().Get("Location")).Body.String(); !strings.Contains(page, "No trap destinations.") {
		t.Errorf("after delete:\n%s", page)
	}
}

// logsBackend serves fixed logs with a full disk.
type logsBackend struct{ *fakeBackend }

func (logsBackend) Logs(n int) (api.LogsView, error) {
	return api.LogsView{Status: logs.Status{File: "/data/logs/hmd.log", DiskError: "write /data/logs/hmd.log: no space left on device", Dropped: 7},
		Lines: []string{`time=x level=INFO msg="state change" to=FAILOVER_ACTIVE <b>`}}, nil
}

// TestLogsPage: the Logs page shows hmd's lines (escaped) and says that
// disk logging stopped on a full partition.
func TestLogsPage(t *testing.T) {
	c := newConsole(t)
	s, err := New(Options{Backend: logsBackend{c.b}, Auth: fakeAuth{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return c.now }})
	if err != nil {
		t.Fatal(err)
	}
	c.s = s
	if w := c.get("/ui/logs"); w.Code != http.StatusSeeOther {
		t.Fatalf("logs without login: %d", w.Code)
	}
	c.login()
	page := c.get("/ui/logs").Body.String()
	for _, want := range []string{"to=FAILOVER_ACTIVE &lt;b&gt;", `id="disk-error"`, "no space left on device", "The appliance keeps serving", "lines dropped 7"} {
		if !strings.Contains(page, want) {
			t.Errorf("Logs page lacks %q:\n%s", want, page)
		}
	}
}
