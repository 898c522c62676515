package licensing

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	pub, priv, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pubPath, keyPath := filepath.Join(dir, "v.pub"), filepath.Join(dir, "v.key")
	if err := WritePublicKey(pubPath, pub); err != nil {
		t.Fatal(err)
	}
	if err := WritePrivateKey(keyPath, priv); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(keyPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v", fi.Mode().Perm())
	}
	if err := WritePrivateKey(keyPath, priv); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwriting a private key: %v", err)
	}
	gotPub, err := ReadPublicKey(pubPath)
	if err != nil || !gotPub.Equal(pub) {
		t.Fatalf("ReadPublicKey: %v", err)
	}
	gotPriv, err := ReadPrivateKey(keyPath)
	if err != nil || !gotPriv.Equal(priv) {
		t.Fatalf("ReadPrivateKey: %v", err)
	}
	// Comments and CRLF are fine.
	if _, err := ParsePublicKey([]byte("# lab key\r\n" + strings.ReplaceAll(string(MarshalPublicKey(pub)), "\n", "\r\n"))); err != nil {
		t.Errorf("commented CRLF key: %v", err)
	}
	// A private key is not a public key and vice versa; the reason says so.
	if _, err := ReadPublicKey(keyPath); !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), "v.key") || !strings.Contains(err.Error(), "private") {
		t.Errorf("private key read as public: %v", err)
	}
	if _, err := ParsePrivateKey(MarshalPublicKey(pub)); !errors.Is(err, ErrBadKey) {
		t.Errorf("public key read as private: %v", err)
	}
	for _, bad := range []string{"", "hafw-vendor-public-key-v1 AAAA\n", "hafw-vendor-public-key-v1\n", string(MarshalPublicKey(pub)) + string(MarshalPublicKey(pub))} {
		if _, err := ParsePublicKey([]byte(bad)); !errors.Is(err, ErrBadKey) {
			t.Errorf("ParsePublicKey(%q) = %v", bad, err)
		}
	}
	if _, err := ReadPublicKey(filepath.Join(dir, "absent")); err == nil {
		t.Error("missing key file gave no error")
	}
}
