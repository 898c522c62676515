package tlsid

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateIsStable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	id, err := LoadOrCreate(dir, "mse1")
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Fingerprint) != 64 || id.Fingerprint != strings.ToLower(id.Fingerprint) || id.Fingerprint != Fingerprint(id.Cert.Certificate[0]) {
		t.Fatalf("fingerprint %q is not the lowercase hex SHA-256 of the certificate", id.Fingerprint)
	}
	fi, err := os.Stat(filepath.Join(dir, "key.pem"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v, want 0600", err, fi.Mode())
	}
	again, err := LoadOrCreate(dir, "mse1")
	if err != nil || again.Fingerprint != id.Fingerprint {
		t.Fatalf("identity not stable across loads: %v %s, first %s", err, again.Fingerprint, id.Fingerprint)
	}
	other, err := LoadOrCreate(filepath.Join(t.TempDir(), "tls"), "mse1")
	if err != nil || other.Fingerprint == id.Fingerprint {
		t.Fatalf("two appliances share a fingerprint: %v", err)
	}
	if cfg := id.ServerTLS(); cfg.MinVersion != tls.VersionTLS13 || cfg.ClientAuth != tls.RequestClientCert {
		t.Errorf("server TLS: version %x, client auth %v: want TLS 1.3, a requested (not required) client certificate", cfg.MinVersion, cfg.ClientAuth)
	}
}

// A certificate without its key (or the reverse) is an error, never a
// silent new identity: the peers have pinned the old one.
func TestLoadOrCreateRefusesHalfAnIdentity(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir, "mse1"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "key.pem")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir, "mse1"); err == nil {
		t.Fatal("a certificate without its key was accepted")
	}
	if _, err := os.Stat(filepath.Join(dir, "key.pem")); err == nil {
		t.Fatal("a new key was written next to the old certificate")
	}
}
