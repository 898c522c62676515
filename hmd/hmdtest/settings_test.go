package hmdtest

import (
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/internal/testenv"
)

// TestSettingsChangeTakesEffectOnBothNodes is the seed's "change the HA
// parameters and Save" on a running pair: paired with manual failover and
// a 20 s wait, the operator sets automatic failover and a 1 s wait with
// hactl on the primary. Both nodes show the new values and the seed's
// "Configuration updated" row, the heartbeats go on without a failover,
// and a killed primary is taken over within the new wait — the old
// settings would have meant no takeover at all (manual), or none before
// 16 s (the old wait less one old interval).
func TestSettingsChangeTakesEffectOnBothNodes(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l := newLAN(t, "10.219.0")
	p := l.addNode("mse1", 2, config.RolePrimary, "3355", 10)
	s := l.addNode("mse2", 3, config.RoleSecondary, "3355", 0)
	pair(t, p, s, "manual", "manual", 20*time.Second)
	p.waitState(0, "PRIMARY_ACTIVE", 10*time.Second)
	s.waitState(0, "SECONDARY_ACTIVE", 10*time.Second)

	out, err := p.hactl("set", "--failover", "automatic", "--wait", "1s")
	if err != nil {
		t.Fatalf("hactl set: %v\n%s\nprimary:\n%s", err, out, p.proc.Output())
	}
	t.Logf("hactl set: %s", strings.TrimSpace(out))
	const remarks = "Failover mode set to AUTOMATIC. Long failover wait set to 1 second. Heartbeat interval set to 200 ms."
	if !strings.Contains(out, remarks) {
		t.Errorf("hactl set printed %q, want %q", out, remarks)
	}
	for _, n := range []*node{p, s} {
		ps := n.status().Peers[0]
		if ps.FailoverType != "automatic" || ps.FailbackType != "manual" || ps.FailoverWaitMS != 1000 || ps.HeartbeatIntervalMS != 200 {
			t.Errorf("%s shows failover %s, failback %s, wait %d ms, interval %d ms; want automatic, manual, 1000, 200",
				n.name, ps.FailoverType, ps.FailbackType, ps.FailoverWaitMS, ps.HeartbeatIntervalMS)
		}
		if got := field(n.gethainfo(), "Failover wait time (seconds)"); len(got) != 1 || got[0] != "1" {
			t.Errorf("%s's gethainfo shows failover wait %v", n.name, got)
		}
		evs, err := n.hactl("events")
		if err != nil || !strings.Contains(evs, "Configuration updated") || !strings.Contains(evs, "Failover mode set to AUTOMATIC.") {
			t.Errorf("%s's events log lacks the change (%v):\n%s", n.name, err, evs)
		}
	}

	// Heartbeats go on at the new pace: several new waits pass without a
	// takeover.
	time.Sleep(3 * time.Second)
	for _, n := range []*node{p, s} {
		if ps := n.status().Peers[0]; ps.Heartbeat != "Up" {
			t.Fatalf("%s: heartbeats %s after the change\n%s", n.name, ps.Heartbeat, n.proc.Output())
		}
	}
	if st := s.status().Peers[0].State; st != "SECONDARY_ACTIVE" {
		t.Fatalf("the secondary is %s after the change, want SECONDARY_ACTIVE\n%s", st, s.proc.Output())
	}
	// Not even for a moment: the monitors restarted with the new timing
	// one after the other, and neither side saw the other go silent.
	for _, n := range []*node{p, s} {
		if evs, _ := n.hactl("events", "--limit", "0"); strings.Contains(evs, ha.MsgHeartbeatsDown) {
			t.Fatalf("%s lost the heartbeats around the change:\n%s", n.name, evs)
		}
	}

	killed := time.Now()
	p.kill(l)
	deadline := killed.Add(30 * time.Second)
	for s.status().Peers[0].State != "FAILOVER_ACTIVE" {
		if time.Now().After(deadline) {
			t.Fatalf("no takeover within 30 s of the kill\n%s\n%s", s.gethainfo(), s.proc.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(killed)
	t.Logf("the secondary served %v after the primary was killed (new failover wait 1 s, old 20 s)", took.Round(time.Millisecond))
	// Down is declared a wait after the last heartbeat, which left at
	// most one interval (200 ms) before the kill; the upper bound leaves
	// a busy machine several seconds for the probes and the takeover,
	// and is far below the 16 s the old wait would take at the least.
	if took < 800*time.Millisecond || took > 10*time.Second {
		t.Fatalf("takeover after %v, want between 0.8 s and 10 s (the new wait, not the old)", took)
	}
}
