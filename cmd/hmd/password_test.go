package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/hafw/hafw/config"
)

// TestPasswordChangeRewritesOnlyTheHash: a change through hmd's password
// check lands in the configuration file (atomically, the rest untouched)
// and is served at once; a file that cannot be read keeps the old password.
func TestPasswordChangeRewritesOnlyTheHash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "appliance.json")
	cfg := config.Default()
	cfg.Hostname, cfg.Role = "mse2", config.RoleSecondary
	cfg.Eth0 = config.Interface{Enabled: true, Address: netip.MustParsePrefix("10.10.10.13/24")}
	var err error
	if cfg.PasswordHash, err = config.HashPasswordCost("first-Password", 1000); err != nil {
		t.Fatal(err)
	}
	if err := config.Save(path, cfg); err != nil {
		t.Fatal(err)
	}
	pw := newPasswordCheck(path, cfg.PasswordHash)
	if err := pw.Change(netip.Addr{}, "first-Password", "second-one-42"); err != nil {
		t.Fatal(err)
	}
	got, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !config.CheckPassword(got.PasswordHash, "second-one-42") || pw.Hash() != got.PasswordHash {
		t.Fatalf("stored hash %q, served %q", got.PasswordHash, pw.Hash())
	}
	got.PasswordHash = cfg.PasswordHash
	if a, b := must(got.Marshal()), must(cfg.Marshal()); string(a) != string(b) {
		t.Errorf("the change touched more than the hash:\n%s\nwant\n%s", a, b)
	}

	if err := os.WriteFile(path, []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	served := pw.Hash()
	if err := pw.Change(netip.Addr{}, "second-one-42", "third-one-42"); err == nil || pw.Hash() != served {
		t.Errorf("change over a broken file: %v; served hash changed: %v", err, pw.Hash() != served)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
