package appmon

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	c, err := Parse([]byte("# the reference service\n/bin/tracker --listen :8080\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Applications) != 1 || c.Applications[0].Name != "tracker" || strings.Join(c.Applications[0].Command, " ") != "/bin/tracker --listen :8080" ||
		c.Policy.MaxFailures != DefaultMaxFailures || time.Duration(c.Policy.HoldDown) != DefaultHoldDown {
		t.Fatalf("plain form: %+v", c)
	}
	c, err = Parse([]byte(`{"applications":[{"name":"tracker","command":["/bin/tracker"],"watchdog":"5s",
		"check":{"http":"http://127.0.0.1:8080/healthz","interval":"1s","timeout":"500ms","fall":2}}],
		"policy":{"max_failures":2,"window":"1m","hold_down":"30s"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if uid, gid := c.Applications[0].Identity(); uid != AppUID || gid != AppGID {
		t.Fatalf("default identity %d:%d, want the application account %d:%d", uid, gid, AppUID, AppGID)
	}
	for user, want := range map[string][2]uint32{"root": {0, 0}, "1000:1001": {1000, 1001}} {
		if uid, gid := (App{User: user}).Identity(); uid != want[0] || gid != want[1] {
			t.Errorf("user %q: %d:%d, want %v", user, uid, gid, want)
		}
	}
	if (App{User: "root"}).Credential() != nil {
		t.Error("a root application is given a credential to change to")
	}
	k := c.Applications[0].Check
	if k.Rise != DefaultRise || k.Fall != 2 || time.Duration(k.Timeout) != 500*time.Millisecond || time.Duration(c.Policy.HoldDown) != 30*time.Second {
		t.Fatalf("JSON form: %+v %+v", c, k)
	}
	for _, bad := range []struct{ in, want string }{
		{`{"applications":[{"name":"Tracker!","command":["/bin/x"]}]}`, "applications[0].name"},
		{`{"applications":[{"name":"a","command":["/bin/x"]},{"name":"a","command":["/bin/y"]}]}`, "applications[1].name: \"a\" is used twice"},
		{`{"applications":[{"name":"a","command":["x"]}]}`, "applications[0].command"},
		{`{"applications":[{"name":"a","command":["/bin/x"],"check":{"tcp":"nope"}}]}`, "applications[0].check.tcp"},
		{`{"applications":[{"name":"a","command":["/bin/x"],"check":{"tcp":":1","http":"http://x/"}}]}`, "exactly one"},
		{`{"applications":[{"name":"a","command":["/bin/x"],"check":{"tcp":":1","interval":"1s","timeout":"2s"}}]}`, "check.timeout: 2s must not be longer"},
		{`{"applications":[{"name":"a","command":["/bin/x"],"check":{"exec":["/bin/true"],"fall":-1}}]}`, "check.fall: -1 is out of range"},
		{`{"applications":[{"name":"a","command":["/bin/x"],"check":{"exec":["/bin/true"],"interval":5}}]}`, "duration string"},
		{`{"policy":{"window":"0.5ms"}}`, "policy.window"},
		{`{"policy":{"max_failures":"3"}}`, "max_failures"},
		{`{"applications":[],"extra":1}`, "unknown field"},
		{`{"applications":[{"name":"a","command":["/bin/x"],"user":"nobody"}]}`, "applications[0].user: \"nobody\": want root or UID:GID"},
		{`{"applications":[{"name":"a","command":["/bin/x"],"user":"1000"}]}`, "applications[0].user"},
		{`{"applications":[{"name":"a","command":["/bin/x"],"user":"70000:1"}]}`, "applications[0].user"},
	} {
		if _, err := Parse([]byte(bad.in)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Parse(%s) = %v, want an error with %q", bad.in, err, bad.want)
		}
	}
}

func TestTrackerRiseFallAndWindow(t *testing.T) {
	app := App{Name: "tracker", Check: &Check{Rise: 2, Fall: 3}}
	tr := NewTracker(app, Policy{MaxFailures: 2, Window: Duration(time.Minute)})
	t0 := time.Unix(1000, 0)
	fail := errors.New("HTTP 500")
	if _, rose := tr.CheckResult(nil, t0); rose {
		t.Fatal("healthy after one success with rise 2")
	}
	if _, rose := tr.CheckResult(nil, t0); !rose || tr.State(t0).Health != Healthy {
		t.Fatal("not healthy after rise successes")
	}
	// A flapping check (fail, fail, ok, …) never reaches fall 3.
	for range 5 {
		tr.CheckResult(fail, t0)
		tr.CheckResult(fail, t0)
		if fell, _ := tr.CheckResult(nil, t0); fell {
			t.Fatal("fell on a success")
		}
	}
	if st := tr.State(t0); st.Health != Healthy || st.Failures != 0 {
		t.Fatalf("flapping below fall changed the state: %+v", st)
	}
	for i := range 3 {
		fell, _ := tr.CheckResult(fail, t0)
		if fell != (i == 2) {
			t.Fatalf("check %d: fell=%v", i, fell)
		}
	}
	if _, tripped := tr.Tripped(t0); tripped {
		t.Fatal("tripped after one failure with max 2")
	}
	// A failure older than the window does not count.
	tr.Exited("exited with status 1", t0.Add(2*time.Minute))
	if _, tripped := tr.Tripped(t0.Add(2 * time.Minute)); tripped {
		t.Fatal("a failure outside the window counted")
	}
	tr.Exited("killed by killed", t0.Add(2*time.Minute+time.Second))
	why, tripped := tr.Tripped(t0.Add(2*time.Minute + time.Second))
	if !tripped || !strings.Contains(why, "tracker: 2 failures within 1 minute (last: killed by killed)") {
		t.Fatalf("Tripped = %q %v", why, tripped)
	}
	if _, again := tr.Tripped(t0.Add(2*time.Minute + time.Second)); again {
		t.Fatal("tripped twice for the same failures")
	}
}

func TestChecks(t *testing.T) {
	ctx := context.Background()
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	h := NewChecker(Check{HTTP: srv.URL + "/healthz"}, Process{})
	if err := h.Check(ctx); err != nil {
		t.Fatalf("healthy HTTP: %v", err)
	}
	status = http.StatusServiceUnavailable
	if err := h.Check(ctx); err == nil || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("503: %v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := NewChecker(Check{TCP: addr}, Process{}).Check(ctx); err != nil {
		t.Fatalf("TCP open: %v", err)
	}
	ln.Close()
	if err := NewChecker(Check{TCP: addr}, Process{}).Check(ctx); err == nil {
		t.Fatal("TCP closed port passed")
	}

	if err := NewChecker(Check{Exec: []string{"/bin/sh", "-c", "exit 0"}}, Process{}).Check(ctx); err != nil {
		t.Fatalf("exec ok: %v", err)
	}
	if err := NewChecker(Check{Exec: []string{"/bin/sh", "-c", "echo broken; exit 3"}}, Process{}).Check(ctx); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("exec failing: %v", err)
	}
}

// A hanging check command, even one whose child keeps the output pipe
// open, ends at its timeout (bounded generously for a busy machine).
func TestHangingExecCheckIsBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := NewChecker(Check{Exec: []string{"/bin/sh", "-c", "sleep 60 & sleep 60"}}, Process{}).Check(ctx)
	if err == nil || !strings.Contains(err.Error(), "no answer within the timeout") {
		t.Fatalf("hanging check: %v", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("the hanging check took %s", el)
	}
}
