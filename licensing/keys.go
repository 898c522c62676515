package licensing

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hafw/hafw/internal/atomicfile"
)

// Key files are one text line, "<kind> <base64>", optionally preceded by
// '#' comment lines (the development key says there that it is lab-only).
// The kind word keeps a private key from being mistaken for a public one.
const (
	publicKind  = "hafw-vendor-public-key-v1"
	privateKind = "hafw-vendor-private-key-v1"
)

// DefaultVendorKeyPath is where an appliance image carries the vendor public
// key (put there by the image builder, read by the init agent and hmd).
const DefaultVendorKeyPath = "/etc/hafw/vendor.pub"

// ErrBadKey is matched by every key file parse error.
var ErrBadKey = errors.New("bad key file")

// GenerateKey makes a new vendor key pair.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating vendor key: %w", err)
	}
	return pub, priv, nil
}

// MarshalPublicKey returns the public key file content.
func MarshalPublicKey(pub ed25519.PublicKey) []byte {
	return []byte(publicKind + " " + base64.StdEncoding.EncodeToString(pub) + "\n")
}

// MarshalPrivateKey returns the private key file content (the 32-byte seed).
func MarshalPrivateKey(priv ed25519.PrivateKey) []byte {
	return []byte(privateKind + " " + base64.StdEncoding.EncodeToString(priv.Seed()) + "\n")
}

// ParsePublicKey reads a public key file's content.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	b, err := parseKey(data, publicKind, ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(b), nil
}

// ParsePrivateKey reads a private key file's content.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	b, err := parseKey(data, privateKind, ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	return ed25519.NewKeyFromSeed(b), nil
}

func parseKey(data []byte, kind string, size int) ([]byte, error) {
	var line string
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		l = strings.TrimSuffix(l, "\r")
		if strings.HasPrefix(l, "#") || strings.TrimSpace(l) == "" {
			continue
		}
		if line != "" {
			return nil, fmt.Errorf("%w: more than one key line", ErrBadKey)
		}
		line = l
	}
	k, v, ok := strings.Cut(line, " ")
	if !ok || k != kind {
		other := publicKind
		if kind == publicKind {
			other = privateKind
		}
		if k == other {
			return nil, fmt.Errorf("%w: this is a %s, want a %s", ErrBadKey, other, kind)
		}
		return nil, fmt.Errorf("%w: want a line %q", ErrBadKey, kind+" <base64>")
	}
	b, err := base64.StdEncoding.Strict().DecodeString(v)
	if err != nil || len(b) != size {
		return nil, fmt.Errorf("%w: %s is not %d bytes of base64", ErrBadKey, kind, size)
	}
	return b, nil
}

// ReadPublicKey reads the vendor public key file at path.
func ReadPublicKey(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading vendor public key: %w", err)
	}
	pub, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pub, nil
}

// ReadPrivateKey reads the vendor private key file at path.
func ReadPrivateKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading vendor private key: %w", err)
	}
	priv, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return priv, nil
}

// WritePublicKey writes the public key file atomically (mode 0644).
func WritePublicKey(path string, pub ed25519.PublicKey) error {
	return atomicfile.Write(path, MarshalPublicKey(pub), 0o644)
}

// WritePrivateKey writes the private key file atomically with mode 0600,
// refusing to replace an existing file: overwriting a vendor key by mistake
// would orphan every license it signed.
func WritePrivateKey(path string, priv ed25519.PrivateKey) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("writing vendor private key: %s already exists, not replacing it", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("writing vendor private key: %w", err)
	}
	return atomicfile.Write(path, MarshalPrivateKey(priv), 0o600)
}
