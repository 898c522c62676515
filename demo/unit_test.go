package demo

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	identity "github.com/hafw/hafw/appliance"
	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/initagent"
	"github.com/hafw/hafw/internal/vmtest"
	"github.com/hafw/hafw/licensing"
)

// The first-boot keys the demo gives each appliance are what the init
// agent accepts: parsed from the command line, applied to the defaults as
// the first boot does, and validated.
func TestApplianceCmdline(t *testing.T) {
	p := &appliance{name: "mse1", role: "primary", eth0: "10.231.0.11/24", vip: "10.231.0.10/24", uuid: "5a1e0001-0000-4000-8000-00000000d001"}
	s := &appliance{name: "mse2", role: "secondary", eth0: "10.231.0.12/24", uuid: "5a1e0002-0000-4000-8000-00000000d002"}
	hash, err := config.HashPasswordCost(password, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*appliance{p, s} {
		c := identity.ParseCmdline(a.cmdline("console=ttyS0,115200 panic=10", hash))
		cfg, err := initagent.ApplyKeys(config.Default(), c.Keys)
		if err != nil {
			t.Fatalf("%s: %v", a.name, err)
		}
		if cfg.Hostname != a.name || string(cfg.Role) != a.role || !config.CheckPassword(cfg.PasswordHash, password) {
			t.Errorf("%s: config %+v", a.name, cfg)
		}
		if _, err := licensing.ParseUDI(a.udi()); err != nil {
			t.Errorf("%s: UDI %q: %v", a.name, a.udi(), err)
		}
	}
	if !strings.Contains(p.cmdline("", "h"), "hafw.vip=10.231.0.10/24") || strings.Contains(s.cmdline("", "h"), "hafw.vip") {
		t.Error("only the primary gets the VIP")
	}
}

// The ready line is matched only once it is complete, and hmd's state
// lines are read in order from a mark on.
func TestConsoleParsing(t *testing.T) {
	vm := &VM{Name: "t", done: make(chan struct{}), console: vmtest.NewConsole()}
	vm.console.Write([]byte("hafw-ready: host=mse1 profile=VA-Standard role=primary eth0=10.231.0.11/24 eth1=down license=activa"))
	ctx := context.Background()
	if _, err := vm.WaitFor(ctx, readyRE, 0, 50*time.Millisecond); err == nil {
		t.Fatal("half a ready line matched")
	}
	vm.console.Write([]byte("ted\r\n"))
	m, err := vm.WaitFor(ctx, readyRE, 0, time.Second)
	if err != nil || m[6] != "activated" {
		t.Fatalf("ready line: %v %q", err, m)
	}
	mark := vm.Len()
	vm.console.Write([]byte(`[hmd] time=2026-11-22T04:56:05Z level=INFO msg="state change" peer=10.231.0.12 from=TERMINATED to=FAILBACK_ACTIVE event=ha.Failback
[hmd] time=2026-11-22T04:56:06Z level=INFO msg="holding VIP" vip=10.231.0.10/24
[hmd] time=2026-11-22T04:56:07Z level=INFO msg="state change" peer=10.231.0.12 from=FAILBACK_ACTIVE to=FAILBACK_COMPLETE event=x
`))
	if got, want := vm.States(mark), []string{"FAILBACK_ACTIVE", "FAILBACK_COMPLETE"}; !slices.Equal(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
	if got := vm.States(vm.Len()); len(got) != 0 {
		t.Errorf("states after the end: %v", got)
	}
}

// The writer's bookkeeping against a tracker stand-in on loopback: the
// outage is the gap around the kill, and Lost names acknowledged writes
// that are missing or hold another write's number.
func TestWriter(t *testing.T) {
	var down bool
	stored := map[string]json.RawMessage{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && !down:
			var e map[string]any
			json.NewDecoder(r.Body).Decode(&e)
			e["id"] = strings.TrimPrefix(r.URL.Path, "/v1/elements/")
			stored[e["id"].(string)], _ = json.Marshal(e)
		case r.Method == http.MethodGet:
			var out []json.RawMessage
			for _, v := range stored {
				out = append(out, v)
			}
			json.NewEncoder(w).Encode(out)
		default:
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	if port == "8080" {
		t.Skip("test server got the tracker's port")
	}
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Listener.Addr().String())
	}
	w := NewWriter(host, dial, time.Second)
	ctx := context.Background()
	record := func(n int) {
		if w.put(ctx, n) == nil {
			w.acks = append(w.acks, ack{n, time.Now()})
		}
		w.attempts = n
		time.Sleep(5 * time.Millisecond)
	}
	for n := 1; n <= 3; n++ {
		record(n)
	}
	down = true
	killed := time.Now()
	record(4)
	time.Sleep(30 * time.Millisecond)
	down = false
	record(5)
	if tried, acked := w.Counts(); tried != 5 || acked != 4 {
		t.Fatalf("counts %d tried %d acked, want 5 and 4", tried, acked)
	}
	out, ok := w.Outage(killed)
	if !ok || out < 30*time.Millisecond || out > time.Second {
		t.Errorf("outage %s %v", out, ok)
	}
	if !w.AckedAfter(killed) {
		t.Error("write 5 was acknowledged after the kill")
	}
	if lost, err := w.Lost(ctx); err != nil || len(lost) != 0 {
		t.Fatalf("nothing lost yet: %v %v", lost, err)
	}
	delete(stored, elementID(2))
	stored[elementID(3)] = json.RawMessage(`{"id":"w000003","note":"7"}`)
	if lost, err := w.Lost(ctx); err != nil || !slices.Equal(lost, []int{2, 3}) {
		t.Errorf("lost %v (%v), want [2 3]", lost, err)
	}
}
