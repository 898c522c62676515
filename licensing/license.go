package licensing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hafw/hafw/hwprofiles"
)

// Feature is what a license enables.
type Feature string

// The features of the seed's License Summary, plus the virtual appliance
// activation license L-MSE-7.0-K9 that every VA needs before it may join an
// HA pair.
const (
	Activation  Feature = "activation"   // L-MSE-7.0-K9: activates a virtual appliance
	CAS         Feature = "cas"          // CAS elements
	WIPSMonitor Feature = "wips-monitor" // wIPS monitor-mode access points
	WIPSLocal   Feature = "wips-local"   // wIPS local-mode access points
	MSAP        Feature = "msap"         // service advertisement clicks
)

// featureInfo describes each known feature: the service whose platform
// limit caps it (empty for activation) and the seed's wording for the type.
var featureInfo = map[Feature]struct {
	service hwprofiles.Service
	label   string
}{
	Activation:  {"", "VA activation (L-MSE-7.0-K9)"},
	CAS:         {hwprofiles.CAS, "CAS Elements"},
	WIPSMonitor: {hwprofiles.WIPS, "wIPS Monitor Mode APs"},
	WIPSLocal:   {hwprofiles.WIPS, "wIPS Local Mode APs"},
	MSAP:        {hwprofiles.MSAP, "Service Advertisement Clicks"},
}

// Features lists the known features in summary order.
func Features() []Feature { return []Feature{Activation, CAS, WIPSMonitor, WIPSLocal, MSAP} }

// Known reports whether f is a feature this firmware understands.
func (f Feature) Known() bool { _, ok := featureInfo[f]; return ok }

// Service is the service whose platform limit caps f ("" for activation).
func (f Feature) Service() hwprofiles.Service { return featureInfo[f].service }

// Label is the seed's License Summary wording for f.
func (f Feature) Label() string { return featureInfo[f].label }

// License is one signed license: a count of one feature for one machine.
type License struct {
	ID      string
	Feature Feature
	Count   int
	UDI     UDI
	Issued  time.Time // a UTC date
	Expires time.Time // a UTC date; zero means it never expires
}

// Reasons a license is refused; every error from Parse, Verify and Store
// matches one of them with errors.Is, and its text is a one-line reason.
var (
	ErrMalformed      = errors.New("malformed license")
	ErrUnknownFeature = errors.New("unknown feature")
	ErrBadSignature   = errors.New("signature does not verify with the vendor key")
	ErrWrongUDI       = errors.New("license is for another machine")
	ErrExpired        = errors.New("license has expired")
)

// formatVersion is the first line's value; a new format gets a new number so
// that old firmware refuses it clearly instead of misreading it.
const formatVersion = "1"

// maxFileSize bounds what Parse reads; a license is a few hundred bytes.
const maxFileSize = 4096

const dateLayout = "2006-01-02"

var idRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$`)

// fieldOrder is the order of the lines in a license file. The order is fixed
// so that the signed content has exactly one spelling.
var fieldOrder = []string{"hafw-license", "id", "feature", "count", "udi", "issued", "expires"}

// Validate checks the fields of l (not its signature).
func (l License) Validate() error {
	switch {
	case !idRE.MatchString(l.ID):
		return fmt.Errorf("%w: id %q: want 1-64 letters, digits, '.', '_' or '-'", ErrMalformed, l.ID)
	case !l.Feature.Known():
		return fmt.Errorf("%w %q (known: %s)", ErrUnknownFeature, l.Feature, featureList())
	case l.Count < 1 || l.Count > 1_000_000:
		return fmt.Errorf("%w: count %d: want 1 to 1000000", ErrMalformed, l.Count)
	case l.Feature == Activation && l.Count != 1:
		return fmt.Errorf("%w: an activation license has count 1, not %d", ErrMalformed, l.Count)
	case l.Issued.IsZero() || !isDate(l.Issued):
		return fmt.Errorf("%w: issued date missing or not a UTC date", ErrMalformed)
	case !l.Expires.IsZero() && !isDate(l.Expires):
		return fmt.Errorf("%w: expiry is not a UTC date", ErrMalformed)
	case !l.Expires.IsZero() && l.Expires.Before(l.Issued):
		return fmt.Errorf("%w: expires %s is before issued %s", ErrMalformed, l.Expires.Format(dateLayout), l.Issued.Format(dateLayout))
	}
	if err := l.UDI.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

func isDate(t time.Time) bool {
	return t.Location() == time.UTC && t.Equal(t.Truncate(24*time.Hour))
}

func featureList() string {
	var names []string
	for _, f := range Features() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

// canonical is the signed content: the field lines in fieldOrder, each
// "key: value\n". It is also exactly how the file spells them.
func (l License) canonical() []byte {
	expires := "never"
	if !l.Expires.IsZero() {
		expires = l.Expires.Format(dateLayout)
	}
	values := []string{formatVersion, l.ID, string(l.Feature), strconv.Itoa(l.Count), l.UDI.String(), l.Issued.Format(dateLayout), expires}
	var b bytes.Buffer
	for i, k := range fieldOrder {
		b.WriteString(k + ": " + values[i] + "\n")
	}
	return b.Bytes()
}

// NewID returns a fresh random license ID such as LIC-3F9A0C21D4E5B678.
func NewID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating license id: %w", err)
	}
	return "LIC-" + strings.ToUpper(hex.EncodeToString(b[:])), nil
}

// Issue signs l with the vendor's private key and returns the license file.
// An empty ID gets a random one; dates are truncated to UTC days.
func Issue(priv ed25519.PrivateKey, l License) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("issuing license: private key has %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	if l.ID == "" {
		id, err := NewID()
		if err != nil {
			return nil, err
		}
		l.ID = id
	}
	l.Issued = Date(l.Issued)
	if !l.Expires.IsZero() {
		l.Expires = Date(l.Expires)
	}
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("issuing license: %w", err)
	}
	body := l.canonical()
	sig := ed25519.Sign(priv, body)
	return append(body, []byte("signature: "+base64.StdEncoding.EncodeToString(sig)+"\n")...), nil
}

// Date truncates t to its UTC calendar day, the resolution of license dates.
func Date(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ParseDate reads a license date (YYYY-MM-DD, UTC).
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(dateLayout, s)
	// Year 1 is Go's zero time, which means "never" for an expiry: refuse it
	// so that no date has two spellings.
	if err != nil || t.IsZero() {
		return time.Time{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return t, nil
}

// parsed is a license file split into its fields and signature.
type parsed struct {
	license License
	sig     []byte
}

// Parse reads a license file without checking its signature; use Verify
// for anything that grants a right. Lines may end in \r\n (a file that went
// through a Windows editor); anything else off the canonical form is refused.
func Parse(data []byte) (License, error) {
	p, err := parse(data)
	return p.license, err
}

func parse(data []byte) (parsed, error) {
	if len(data) > maxFileSize {
		return parsed{}, fmt.Errorf("%w: %d bytes, a license is at most %d", ErrMalformed, len(data), maxFileSize)
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text, ok := strings.CutSuffix(text, "\n")
	if !ok {
		return parsed{}, fmt.Errorf("%w: missing final newline", ErrMalformed)
	}
	lines := strings.Split(text, "\n")
	keys := append(append([]string{}, fieldOrder...), "signature")
	if len(lines) != len(keys) {
		return parsed{}, fmt.Errorf("%w: %d lines, want %d (%s)", ErrMalformed, len(lines), len(keys), strings.Join(keys, ", "))
	}
	values := make([]string, len(keys))
	for i, line := range lines {
		k, v, ok := strings.Cut(line, ": ")
		if !ok || k != keys[i] {
			return parsed{}, fmt.Errorf("%w: line %d: want %q, got %.40q", ErrMalformed, i+1, keys[i]+": …", line)
		}
		values[i] = v
	}
	if values[0] != formatVersion {
		return parsed{}, fmt.Errorf("%w: format version %.20q, this firmware reads %s", ErrMalformed, values[0], formatVersion)
	}
	var l License
	l.ID = values[1]
	l.Feature = Feature(values[2])
	if !l.Feature.Known() {
		return parsed{}, fmt.Errorf("%w %.40q (known: %s)", ErrUnknownFeature, values[2], featureList())
	}
	n, err := strconv.Atoi(values[3])
	if err != nil || strconv.Itoa(n) != values[3] {
		return parsed{}, fmt.Errorf("%w: count %.20q is not a plain decimal number", ErrMalformed, values[3])
	}
	l.Count = n
	if l.UDI, err = ParseUDI(values[4]); err != nil {
		return parsed{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if l.Issued, err = ParseDate(values[5]); err != nil {
		return parsed{}, fmt.Errorf("%w: issued %w", ErrMalformed, err)
	}
	if values[6] != "never" {
		if l.Expires, err = ParseDate(values[6]); err != nil {
			return parsed{}, fmt.Errorf("%w: expires %w (or never)", ErrMalformed, err)
		}
	}
	if err := l.Validate(); err != nil {
		return parsed{}, err
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(values[7])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return parsed{}, fmt.Errorf("%w: signature is not %d bytes of base64", ErrMalformed, ed25519.SignatureSize)
	}
	return parsed{license: l, sig: sig}, nil
}

// Verify parses data and checks, in this order, that the vendor key signed
// it, that it is bound to udi, and that it has not expired at now. The
// error is a one-line reason (matching one of the Err* values); callers add
// the file name.
func Verify(data []byte, pub ed25519.PublicKey, udi UDI, now time.Time) (License, error) {
	p, err := parse(data)
	if err != nil {
		return License{}, err
	}
	l := p.license
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, l.canonical(), p.sig) {
		return License{}, fmt.Errorf("license %s: %w (tampered, or signed by another vendor key)", l.ID, ErrBadSignature)
	}
	if l.UDI != udi {
		return License{}, fmt.Errorf("license %s: %w: issued for %s, this machine is %s", l.ID, ErrWrongUDI, l.UDI, udi)
	}
	if l.Expired(now) {
		return License{}, fmt.Errorf("license %s: %w (valid through %s)", l.ID, ErrExpired, l.Expires.Format(dateLayout))
	}
	return l, nil
}

// Expired reports whether l is no longer valid at now: a license with
// "expires: D" is valid through the whole of day D (UTC), as an
// administrator reading the file would expect. The issued date is not
// checked against now, because an appliance may boot with its clock unset
// before NTP has run, and a license must not vanish then.
func (l License) Expired(now time.Time) bool {
	return !l.Expires.IsZero() && !now.Before(l.Expires.AddDate(0, 0, 1))
}
