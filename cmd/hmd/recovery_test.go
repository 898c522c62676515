package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hafw/hafw/appliance"
	"github.com/hafw/hafw/board"
	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/store"
	"github.com/hafw/hafw/hwprofiles"
)

func recoveryConfig(t *testing.T, role config.Role) (string, config.Appliance) {
	t.Helper()
	cfg := config.Default()
	cfg.Role, cfg.RecoveryMode = role, role != config.RoleSecondary
	cfg.Eth0 = config.Interface{Enabled: true, Address: netip.MustParsePrefix("10.245.0.2/24"), Gateway: netip.MustParseAddr("10.245.0.1")}
	if role == config.RolePrimary {
		cfg.VIP = netip.MustParsePrefix("10.245.0.9/24")
	}
	path := filepath.Join(t.TempDir(), "appliance.json")
	if err := config.Save(path, cfg); err != nil {
		t.Fatal(err)
	}
	return path, cfg
}

// TestRestorerLeavesRecoveryMode: a restore makes the configuration a
// primary's with the pair's VIP and recovery mode off; a secondary's
// configuration and an invalid VIP are refused and leave the file as it was.
func TestRestorerLeavesRecoveryMode(t *testing.T) {
	// A recovery boot's configuration may be a primary's or have no role.
	for _, role := range []config.Role{config.RolePrimary, config.RoleNone} {
		path, _ := recoveryConfig(t, role)
		r := newRestorer(path)
		if err := r.restored(netip.MustParsePrefix("10.245.0.10/24")); err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		got, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if got.Role != config.RolePrimary || got.VIP != netip.MustParsePrefix("10.245.0.10/24") || got.RecoveryMode {
			t.Errorf("%s after restore: role %s, VIP %s, recovery %v", role, got.Role, got.VIP, got.RecoveryMode)
		}
		select {
		case <-r.done:
		default:
			t.Errorf("%s: restore did not signal the restart", role)
		}
	}

	for _, c := range []struct {
		role config.Role
		vip  string
		want string
	}{
		{config.RoleSecondary, "10.245.0.10/24", "secondary"},
		{config.RoleNone, "10.99.0.10/24", "save the configuration"},
	} {
		path, _ := recoveryConfig(t, c.role)
		before, _ := os.ReadFile(path)
		r := newRestorer(path)
		err := r.restored(netip.MustParsePrefix(c.vip))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s with VIP %s: err %v, want %q", c.role, c.vip, err, c.want)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Errorf("%s: a refused restore changed the configuration", c.role)
		}
		select {
		case <-r.done:
			t.Errorf("%s: a refused restore signalled the restart", c.role)
		default:
		}
	}
}

// TestDecideEndsRecoveryWithAStoredPairing: the flag or the configuration
// asks for recovery mode, but a stored pairing means it is over.
func TestDecideEndsRecoveryWithAStoredPairing(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	_, cfg := recoveryConfig(t, config.RolePrimary)
	p, err := hwprofiles.Lookup("3355")
	if err != nil {
		t.Fatal(err)
	}
	lic := licenseFiles{id: appliance.Identity{Platform: board.Platform{Profile: p}}}
	dir := t.TempDir()
	for _, c := range []struct {
		flag, mode, want bool
	}{{false, false, false}, {true, false, true}, {false, true, true}} {
		cfg.RecoveryMode = c.mode
		if got, _, err := decide(c.flag, cfg, lic, dir, log); err != nil || got.Recovery != c.want {
			t.Errorf("flag %v, config %v: %+v (%v), want recovery %v", c.flag, c.mode, got, err, c.want)
		}
	}
	peer := store.Peer{Config: store.PeerConfig{HIP: netip.MustParseAddr("10.245.0.3")}}
	if err := (store.Store{Dir: dir}).Save(peer); err != nil {
		t.Fatal(err)
	}
	if got, _, err := decide(true, cfg, lic, dir, log); err != nil || got.Recovery || got.Reason != appliance.RecoveryComplete || got.Role != config.RolePrimary {
		t.Errorf("with a stored pairing: %+v (%v), want the primary role, recovery complete", got, err)
	}
}
