package hmdtest

import (
	"strings"
	"testing"
	"time"

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
}
