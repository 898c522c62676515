package hmdtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/events"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
)

// TestDamagedStateAtBoot: an N:1 secondary is stopped, one of its two peer
// files is truncated and its events log emptied to zero bytes (what a crash
// on a bad disk leaves), and hmd is started again. It must come up (it
// used to exit and restart in a loop: no HA at all), keep the other pair
// and serve it, show both damaged files as quarantined, log an event for
// each, and keep the damaged files aside for the operator.
func TestDamagedStateAtBoot(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l := newLAN(t, "10.221.0")
	p1 := l.addNode("mse3350", 22, config.RolePrimary, "3350", 21)
	p2 := l.addNode("mse3310", 17, config.RolePrimary, "3310", 18)
	s := l.addNode("mse3355", 16, config.RoleSecondary, "3355", 0)
	pair(t, p1, s, "automatic", "manual", 500*time.Millisecond)
	pair(t, p2, s, "automatic", "manual", 500*time.Millisecond)
	s.waitState(0, "SECONDARY_ACTIVE", 10*time.Second)
	s.waitState(1, "SECONDARY_ACTIVE", 10*time.Second)

	if err := s.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-s.proc.Exited()
	damagedPeer := filepath.Join(s.stateDir, "peers", p1.hip.String()+".json")
	data, err := os.ReadFile(damagedPeer)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(damagedPeer, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.stateDir, "events.json"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()

	st := s.status()
	if len(st.Peers) != 1 || st.Peers[0].HealthMonitorIP != p2.hip.String() {
		t.Fatalf("after a damaged peer file the secondary must keep the other pair; peers %+v", st.Peers)
	}
	if len(st.Quarantined) != 2 {
		t.Fatalf("status quarantined %q, want the events log and the peer file", st.Quarantined)
	}
	for _, q := range st.Quarantined {
		if _, err := os.Stat(q); err != nil || !strings.Contains(q, ".damaged-") {
			t.Errorf("quarantined file %s: %v", q, err)
		}
	}
	if _, err := os.Stat(damagedPeer); !os.IsNotExist(err) {
		t.Errorf("the damaged peer file is still in place: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	evs, err := s.api().Events(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !hasEvent(evs, "Events log damaged", "") || !hasEvent(evs, "Pairing damaged", p1.hip.String()) {
		t.Errorf("events after the damaged start: %+v", evs)
	}
	// The kept pair still works: its primary dies, the secondary takes over.
	s.waitState(0, "SECONDARY_ACTIVE", 10*time.Second)
	p2.kill(l)
	s.waitState(0, "FAILOVER_ACTIVE", 10*time.Second)
	netnstest.Eventually(t, 10*time.Second, "the secondary to hold the kept pair's VIP", func() bool { return s.hasAddr(l.addr(18)) })
}

func hasEvent(evs []events.Event, description, peer string) bool {
	for _, e := range evs {
		if e.Description == description && e.Peer == peer {
			return true
		}
	}
	return false
}
