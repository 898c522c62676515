// Package upgrade is field upgrade of the appliance firmware: the signed
// update bundle (`hafw build` writes one next to every image), the boot
// slots on the EFI system partition with systemd-boot's boot counting, the
// installer that writes the inactive slot, and the boot-time decisions
// that commit a slot that came up healthy or roll back one that did not.
//
// The bundle, version order and slot state machine are pure; everything
// that touches the boot partition goes through Boot.
package upgrade

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"time"
)

// Format is the manifest's format word; a new layout gets a new word so
// that older firmware refuses it clearly instead of misreading it.
const Format = "hafw-update-1"

// Ext is the bundle file name extension: hafw-<profile>-<version>.update.
const Ext = ".update"

// Member names inside a bundle, in their order: the manifest, its
// signature, then the slot payload (what a boot slot directory holds).
const (
	ManifestName  = "manifest.json"
	SignatureName = "manifest.sig"
	KernelName    = "vmlinuz"
	InitrdName    = "initrd.zst"
)

// SlotFiles is a slot's payload, in bundle order.
var SlotFiles = []string{KernelName, InitrdName}

// Bounds on what a bundle may declare: a real manifest is under 1 KiB, a
// kernel about 8 MiB, an initramfs about 20 MiB. The boot partition is
// 256 MiB for two slots, so anything bigger could never be installed.
const (
	maxManifest = 64 << 10
	maxSig      = 1 << 10
	MaxMember   = 100 << 20
)

// signContext is signed in front of the manifest: the vendor key also signs
// licenses, and this prefix keeps a license signature from ever verifying
// as a bundle's (or the other way round).
const signContext = "hafw update manifest v1\n"

// sigKind starts the signature member's one line.
const sigKind = "hafw-update-signature-v1"

// Manifest describes a bundle; its exact bytes are what the vendor signs.
type Manifest struct {
	Format  string `json:"format"`
	Profile string `json:"profile"`
	Version string `json:"version"`
	// MinVersion is the oldest running version this bundle may upgrade
	// from ("" for any).
	MinVersion string `json:"min_version,omitempty"`
	// ConfigSchema is the data partition schema this firmware reads and
	// migrates to (DataSchema of its build).
	ConfigSchema    int      `json:"config_schema"`
	KernelRelease   string   `json:"kernel_release,omitempty"`
	SourceDateEpoch int64    `json:"source_date_epoch"`
	Members         []Member `json:"members"`
}

// Member is one payload file with its size and SHA-256.
type Member struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Reasons a bundle is refused; every error from Open, Check and Each
// matches one of them with errors.Is.
var (
	ErrMalformed    = errors.New("malformed update bundle")
	ErrSignature    = errors.New("update bundle signature does not verify with the vendor key")
	ErrWrongProfile = errors.New("update bundle is for another profile")
	ErrVersion      = errors.New("update bundle version not allowed")
	ErrDigest       = errors.New("update bundle member does not match its manifest digest")
)

// File is one payload file to put into a bundle.
type File struct {
	Name string
	Path string
}

// Write writes a signed bundle of files to w. m's Members are filled in
// from the files; every tar header carries epoch and no owner, so the
// same inputs give the same bytes (Ed25519 signatures are deterministic).
func Write(w io.Writer, m Manifest, files []File, priv ed25519.PrivateKey, epoch time.Time) (*Manifest, error) {
	m.Format = Format
	m.Members = nil
	for _, f := range files {
		sum, size, err := hashFile(f.Path)
		if err != nil {
			return nil, err
		}
		m.Members = append(m.Members, Member{Name: f.Name, Size: size, SHA256: sum})
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding update manifest: %w", err)
	}
	mj = append(mj, '\n')
	sig := ed25519.Sign(priv, append([]byte(signContext), mj...))
	sigLine := []byte(sigKind + " " + base64.StdEncoding.EncodeToString(sig) + "\n")

	tw := tar.NewWriter(w)
	put := func(name string, size int64, r io.Reader) error {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: epoch.UTC(), Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("writing bundle member %s: %w", name, err)
		}
		if _, err := io.Copy(tw, r); err != nil {
			return fmt.Errorf("writing bundle member %s: %w", name, err)
		}
		return nil
	}
	if err := put(ManifestName, int64(len(mj)), bytes.NewReader(mj)); err != nil {
		return nil, err
	}
	if err := put(SignatureName, int64(len(sigLine)), bytes.NewReader(sigLine)); err != nil {
		return nil, err
	}
	for i, f := range files {
		in, err := os.Open(f.Path)
		if err != nil {
			return nil, fmt.Errorf("reading bundle payload: %w", err)
		}
		err = put(f.Name, m.Members[i].Size, in)
		in.Close()
		if err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("finishing bundle: %w", err)
	}
	return &m, nil
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("reading bundle payload: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("reading bundle payload %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// validate checks what every manifest must say, signed or not.
func (m *Manifest) validate() error {
	if m.Format != Format {
		return fmt.Errorf("%w: format %q, this firmware reads %q", ErrMalformed, m.Format, Format)
	}
	for field, v := range map[string]string{"profile": m.Profile, "version": m.Version} {
		if v == "" || strings.ContainsAny(v, "/ \n\t") {
			return fmt.Errorf("%w: %s %q must be non-empty without spaces or slashes", ErrMalformed, field, v)
		}
	}
	if strings.ContainsAny(m.MinVersion, "/ \n\t") {
		return fmt.Errorf("%w: min_version %q", ErrMalformed, m.MinVersion)
	}
	if len(m.Members) != len(SlotFiles) {
		return fmt.Errorf("%w: %d payload members, want %s", ErrMalformed, len(m.Members), strings.Join(SlotFiles, ", "))
	}
	for i, mem := range m.Members {
		if mem.Name != SlotFiles[i] {
			return fmt.Errorf("%w: payload member %d is %q, want %q", ErrMalformed, i+1, mem.Name, SlotFiles[i])
		}
		if mem.Size <= 0 || mem.Size > MaxMember {
			return fmt.Errorf("%w: member %s has size %d (1 byte to %d MiB)", ErrMalformed, mem.Name, mem.Size, MaxMember>>20)
		}
		if b, err := hex.DecodeString(mem.SHA256); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("%w: member %s sha256 is not 64 hexadecimal digits", ErrMalformed, mem.Name)
		}
	}
	return nil
}

// Bundle is an opened bundle whose manifest signature has verified; the
// payload is read (and checked against the manifest) by Each.
type Bundle struct {
	Manifest Manifest
	tr       *tar.Reader
	read     bool
}

// Open reads a bundle's manifest and signature from r and verifies the
// signature with the vendor public key. Nothing of the payload is read yet.
func Open(r io.Reader, pub ed25519.PublicKey) (*Bundle, error) {
	tr := tar.NewReader(r)
	mj, err := readSmall(tr, ManifestName, maxManifest)
	if err != nil {
		return nil, err
	}
	sigLine, err := readSmall(tr, SignatureName, maxSig)
	if err != nil {
		return nil, err
	}
	k, v, ok := strings.Cut(strings.TrimSuffix(string(sigLine), "\n"), " ")
	if !ok || k != sigKind {
		return nil, fmt.Errorf("%w: %s is not a %q line", ErrMalformed, SignatureName, sigKind)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(v)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: %s does not hold a %d-byte Ed25519 signature", ErrMalformed, SignatureName, ed25519.SignatureSize)
	}
	if !ed25519.Verify(pub, append([]byte(signContext), mj...), sig) {
		return nil, ErrSignature
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(mj))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %w", ErrMalformed, err)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &Bundle{Manifest: m, tr: tr}, nil
}

// readSmall reads the next tar member, which must be name and at most max
// bytes.
func readSmall(tr *tar.Reader, name string, max int64) ([]byte, error) {
	hdr, err := tr.Next()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: ends before %s (truncated?)", ErrMalformed, name)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrMalformed, name, err)
	}
	if hdr.Name != name || hdr.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("%w: member %q where %s belongs", ErrMalformed, hdr.Name, name)
	}
	if hdr.Size > max {
		return nil, fmt.Errorf("%w: %s is %d bytes, at most %d", ErrMalformed, name, hdr.Size, max)
	}
	b, err := io.ReadAll(io.LimitReader(tr, max))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w (truncated?)", ErrMalformed, name, err)
	}
	return b, nil
}

// Policy is what the running appliance allows a bundle to be.
type Policy struct {
	Profile string // this appliance's model
	Running string // the version running now
	// DataSchema is the data partition's current schema version (0:
	// unknown, not checked).
	DataSchema int
	// AllowDowngrade accepts a version that is not newer than Running
	// (the caller logs that it did).
	AllowDowngrade bool
}

// Check decides whether the verified bundle may be installed under p.
func (m *Manifest) Check(p Policy) error {
	if m.Profile != p.Profile {
		return fmt.Errorf("%w: bundle is for %s, this appliance is %s", ErrWrongProfile, m.Profile, p.Profile)
	}
	if m.MinVersion != "" && CompareVersions(p.Running, m.MinVersion) < 0 {
		return fmt.Errorf("%w: version %s upgrades only from %s or newer, this appliance runs %s", ErrVersion, m.Version, m.MinVersion, p.Running)
	}
	if CompareVersions(m.Version, p.Running) <= 0 && !p.AllowDowngrade {
		return fmt.Errorf("%w: version %s is not newer than the running %s (allow a downgrade explicitly to install it)", ErrVersion, m.Version, p.Running)
	}
	if p.DataSchema > 0 && m.ConfigSchema < p.DataSchema {
		return fmt.Errorf("%w: version %s reads data schema %d, the data partition is at schema %d", ErrVersion, m.Version, m.ConfigSchema, p.DataSchema)
	}
	return nil
}

// Each reads the payload members in order and hands each to fn as it is
// read; a member whose size or SHA-256 differs from the manifest, a
// missing, extra or truncated member is an error after fn returns, so a
// caller keeps what fn wrote only when Each returns nil. Each can run once.
func (b *Bundle) Each(fn func(m Member, r io.Reader) error) error {
	if b.read {
		return errors.New("update bundle payload already read")
	}
	b.read = true
	for _, mem := range b.Manifest.Members {
		hdr, err := b.tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: ends before member %s (truncated?)", ErrMalformed, mem.Name)
		}
		if err != nil {
			return fmt.Errorf("%w: reading member %s: %w", ErrMalformed, mem.Name, err)
		}
		if hdr.Name != mem.Name || hdr.Typeflag != tar.TypeReg {
			return fmt.Errorf("%w: member %q where %s belongs", ErrMalformed, hdr.Name, mem.Name)
		}
		if hdr.Size != mem.Size {
			return fmt.Errorf("%w: member %s is %d bytes, the manifest says %d", ErrDigest, mem.Name, hdr.Size, mem.Size)
		}
		h := sha256.New()
		cr := &countingReader{r: io.TeeReader(b.tr, h)}
		if err := fn(mem, cr); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, cr); err != nil {
			return fmt.Errorf("%w: reading member %s: %w (truncated?)", ErrMalformed, mem.Name, err)
		}
		if cr.n != mem.Size {
			return fmt.Errorf("%w: member %s ends after %d of %d bytes (truncated?)", ErrMalformed, mem.Name, cr.n, mem.Size)
		}
		if got := hexSum(h); got != mem.SHA256 {
			return fmt.Errorf("%w: %s has sha256 %s, the signed manifest says %s", ErrDigest, mem.Name, got, mem.SHA256)
		}
	}
	if hdr, err := b.tr.Next(); err == nil {
		return fmt.Errorf("%w: unexpected member %q after the payload", ErrMalformed, hdr.Name)
	} else if !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: after the payload: %w", ErrMalformed, err)
	}
	return nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Verify opens the bundle at path and checks everything — signature,
// policy and every digest — reading it once without writing anything.
func Verify(path string, pub ed25519.PublicKey, p Policy) (*Manifest, error) {
	return verifyWithProgress(context.Background(), path, pub, p, func(int64) {})
}
