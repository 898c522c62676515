package hmdtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
)

// TestVersionMismatchIsFlagged is the first step of a pair's rolling
// upgrade: the secondary comes back on new firmware. Both sides show the
// other's version (heard in the heartbeats) with a mismatch warning, both
// events logs say it, and a switchover still works across the skew; when
// the primary runs the same version again the warning goes and the logs
// say the versions match.
func TestVersionMismatchIsFlagged(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l := newLAN(t, "10.223.0")
	p := l.addNode("mse1", 2, config.RolePrimary, "3355", 10)
	s := l.addNode("mse2", 3, config.RoleSecondary, "3355", 0)
	pair(t, p, s, "manual", "manual", time.Second)
	waitTrue(t, 15*time.Second, "the initial sync", func() bool { return p.replication() == "Up" })

	upgrade := func(n *node, version string) {
		t.Helper()
		// The test nodes read their version from this file (absent: "dev").
		if err := os.WriteFile(filepath.Join(n.dir, "no-version"), []byte(version+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		n.restart()
	}
	warning := func(n *node) string {
		for _, w := range n.status().Peers[0].Warnings {
			if strings.HasPrefix(w, "Version mismatch: ") {
				return w
			}
		}
		return ""
	}
	upgrade(s, "2.0")
	netnstest.Eventually(t, 15*time.Second, "both sides to flag the versions", func() bool {
		return strings.Contains(warning(p), "this appliance runs dev, the peer 2.0") && strings.Contains(warning(s), "this appliance runs 2.0, the peer dev")
	})
	if v := p.status().Peers[0].Version; v != "2.0" {
		t.Errorf("the primary shows the secondary's version %q, want 2.0", v)
	}
	if info := p.gethainfo(); !strings.Contains(info, "Version: 2.0") || !strings.Contains(info, "Warning: Version mismatch") {
		t.Errorf("gethainfo on the primary:\n%s", info)
	}
	for _, n := range []*node{p, s} {
		netnstest.Eventually(t, 5*time.Second, n.name+"'s events to say the versions differ", func() bool {
			evs, err := n.hactl("events", "--limit", "0")
			return err == nil && strings.Contains(evs, "Version mismatch: this appliance runs")
		})
	}

	s.waitState(0, "SECONDARY_ACTIVE", 10*time.Second)
	waitTrue(t, 15*time.Second, "the sync with the upgraded secondary", func() bool { return p.replication() == "Up" })
	if out, err := p.hactl("switchover"); err != nil {
		t.Fatalf("hactl switchover across the versions: %v\n%s", err, out)
	}
	s.waitState(0, "FAILOVER_ACTIVE", 10*time.Second)
	p.waitState(0, "TERMINATED", 10*time.Second)

	upgrade(p, "2.0")
	netnstest.Eventually(t, 15*time.Second, "the warning to go", func() bool { return warning(p) == "" && warning(s) == "" })
	netnstest.Eventually(t, 5*time.Second, "the secondary's events to say the versions match", func() bool {
		evs, err := s.hactl("events", "--limit", "0")
		return err == nil && strings.Contains(evs, "Firmware versions match again: both run 2.0")
	})
	// The restarts on new firmware told each mismatch once: no flapping
	// while the restarted side learned the peer's format.
	evs, err := s.hactl("events", "--limit", "0")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(evs, "Version mismatch"); n != 1 {
		t.Errorf("the secondary logged %d version mismatches, want 1:\n%s", n, evs)
	}
}
