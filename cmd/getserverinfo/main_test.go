package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
