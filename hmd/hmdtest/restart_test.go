package hmdtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/daemon"
	"github.com/hafw/hafw/internal/testenv"
)

// TestRestartedPrimaryDoesNotAdvertiseItsSavedState: a primary whose hmd
// died while PRIMARY_ACTIVE comes back after its secondary took over. Its
// saved state says it holds the VIP, which this run does not (start-up
// removes it); its heartbeats must say what the restarted node is, never
// the saved state, or the serving secondary logs a split brain that is
// not there.
func TestRestartedPrimaryDoesNotAdvertiseItsSavedState(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l, p, s := newPair(t, "10.226.0", nil)

	p.kill(l)
	s.waitState(0, "FAILOVER_ACTIVE", 10*time.Second)
	l.br.SetPort(p.port, true)
	p.start()
	p.waitState(0, "TERMINATED", 10*time.Second)
	time.Sleep(time.Second) // heartbeats keep flowing
	if evs, _ := s.hactl("events"); strings.Contains(evs, "Split brain detected") {
		t.Errorf("the secondary logged a split brain when the primary restarted:\n%s\nsecondary output:\n%s", evs, s.proc.Output())
	}
	// The primary's own log says it restarted, and that the run before
	// was not stopped gracefully.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	evs, err := p.api().Events(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	starts := 0
	for _, e := range evs {
		if e.Description == daemon.MsgStarted {
			starts++
			if starts == 1 && !strings.Contains(e.Remarks, "peer "+s.hip.String()+": the last run ended without a graceful shutdown, in PRIMARY_ACTIVE") {
				t.Errorf("restart remarks %q", e.Remarks)
			}
		}
	}
	if starts != 2 {
		t.Errorf("%d start events in the primary's log, want 2 (first start and restart): %+v", starts, evs)
	}
}
