package upgrade

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hafw/hafw/licensing/devkey"
)

var testEpoch = time.Unix(1700000000, 0).UTC()

// testPayload writes a small kernel and initramfs and returns them as
// bundle files.
func testPayload(t testing.TB, kernel, initrd string) []File {
	t.Helper()
	dir := t.TempDir()
	k, i := filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initrd.zst")
	if err := os.WriteFile(k, []byte(kernel), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(i, []byte(initrd), 0o644); err != nil {
		t.Fatal(err)
	}
	return []File{{KernelName, k}, {InitrdName, i}}
}

func testBundle(t testing.TB, profile, version string, priv ed25519.PrivateKey) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Write(&buf, Manifest{Profile: profile, Version: version, MinVersion: "1", ConfigSchema: DataSchema, SourceDateEpoch: testEpoch.Unix()},
		testPayload(t, "kernel "+version, "initramfs "+version), priv, testEpoch); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var testPolicy = Policy{Profile: "3355", Running: "1.0", DataSchema: DataSchema}

// verifyBytes is Verify on bytes in memory.
func verifyBytes(data []byte, pub ed25519.PublicKey, p Policy) (*Manifest, error) {
	b, err := Open(bytes.NewReader(data), pub)
	if err != nil {
		return nil, err
	}
	if err := b.Manifest.Check(p); err != nil {
		return nil, err
	}
	return &b.Manifest, b.Each(func(Member, io.Reader) error { return nil })
}

func TestBundleRoundTripAndReproducible(t *testing.T) {
	a := testBundle(t, "3355", "2.0", devkey.Private())
	b := testBundle(t, "3355", "2.0", devkey.Private())
	if !bytes.Equal(a, b) {
		t.Fatal("two bundles of the same inputs differ")
	}
	m, err := verifyBytes(a, devkey.Public(), testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != "2.0" || m.Profile != "3355" || m.MinVersion != "1" || len(m.Members) != 2 || m.Members[1].Size != int64(len("initramfs 2.0")) {
		t.Fatalf("manifest %+v", m)
	}
	// Each hands over the payload exactly.
	bu, err := Open(bytes.NewReader(a), devkey.Public())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	if err := bu.Each(func(m Member, r io.Reader) error {
		data, err := io.ReadAll(r)
		got[m.Name] = string(data)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got[KernelName] != "kernel 2.0" || got[InitrdName] != "initramfs 2.0" {
		t.Fatalf("payload %q", got)
	}
}

// TestBundleRefused: every kind of bad bundle is refused with its reason.
func TestBundleRefused(t *testing.T) {
	good := testBundle(t, "3355", "2.0", devkey.Private())
	_, otherKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= 0x01
		return b
	}
	payloadAt := bytes.Index(good, []byte("initramfs 2.0"))
	manifestAt := bytes.Index(good, []byte(`"version": "2.0"`)) + len(`"version": "`)
	cases := []struct {
		name string
		data []byte
		p    Policy
		want error
	}{
		{"payload byte flipped", flip(payloadAt), testPolicy, ErrDigest},
		{"manifest byte flipped", flip(manifestAt), testPolicy, ErrSignature},
		{"other signing key", testBundle(t, "3355", "2.0", otherKey), testPolicy, ErrSignature},
		{"other profile", testBundle(t, "3310", "2.0", devkey.Private()), testPolicy, ErrWrongProfile},
		{"older version", testBundle(t, "3355", "0.9", devkey.Private()), testPolicy, ErrVersion},
		{"same version", testBundle(t, "3355", "1.0", devkey.Private()), testPolicy, ErrVersion},
		{"below minimum", good, Policy{Profile: "3355", Running: "0.5"}, ErrVersion},
		{"older data schema", good, Policy{Profile: "3355", Running: "1.0", DataSchema: DataSchema + 1}, ErrVersion},
		{"truncated in payload", good[:payloadAt+3], testPolicy, ErrMalformed},
		{"truncated in manifest", good[:manifestAt], testPolicy, ErrMalformed},
		{"empty", nil, testPolicy, ErrMalformed},
		{"trailing member", append(bytes.Clone(good[:len(good)-1024]), testBundle(t, "3355", "2.0", devkey.Private())...), testPolicy, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := verifyBytes(c.data, devkey.Public(), c.p)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// A downgrade is allowed only when asked for.
	if _, err := verifyBytes(testBundle(t, "3355", "0.9", devkey.Private()), devkey.Public(), Policy{Profile: "3355", Running: "1.0", AllowDowngrade: true}); err != nil {
		t.Fatalf("allowed downgrade refused: %v", err)
	}
}

func TestCompareVersions(t *testing.T) {
	order := []string{"0.1.0-dev", "0.1.0", "0.9", "1", "1.0", "1.0.1", "1.2~rc1", "1.2", "1.10", "2", "10"}
	for i, a := range order {
		for j, b := range order {
			want := sign(i - j)
			if (a == "1" && b == "1.0") || (a == "1.0" && b == "1") {
				want = sign(len(a) - len(b))
			}
			if got := CompareVersions(a, b); got != want {
				t.Errorf("CompareVersions(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func FuzzCompareVersions(f *testing.F) {
	f.Add("1.0", "1.0-dev")
	f.Add("2~rc1", "2")
	f.Fuzz(func(t *testing.T, a, b string) {
		if CompareVersions(a, b) != -CompareVersions(b, a) {
			t.Fatalf("not antisymmetric: %q %q", a, b)
		}
		if CompareVersions(a, a) != 0 {
			t.Fatalf("%q not equal to itself", a)
		}
	})
}

// FuzzOpenBundle: whatever the bytes, Open and Each return an error or a
// bundle whose payload matched its signed manifest; they never panic or
// read past their bounds.
func FuzzOpenBundle(f *testing.F) {
	good := testBundle(f, "3355", "2.0", devkey.Private())
	f.Add(good)
	f.Add(good[:700])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Open(bytes.NewReader(data), devkey.Public())
		if err != nil {
			return
		}
		var n int64
		err = b.Each(func(m Member, r io.Reader) error {
			c, err := io.Copy(io.Discard, r)
			n += c
			return err
		})
		if err == nil && n != b.Manifest.Members[0].Size+b.Manifest.Members[1].Size {
			t.Fatalf("accepted payload of %d bytes for manifest %+v", n, b.Manifest.Members)
		}
	})
}
