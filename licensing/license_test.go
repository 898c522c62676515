package licensing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	testUDI   = UDI{PID: "AIR-MSE-VA-K9", VID: "V01", SN: "mse1_d5972642-5696-11e1-bd0c-0050568901d6"}
	otherUDI  = UDI{PID: "AIR-MSE-VA-K9", VID: "V01", SN: "mse2_666f2046-5699-11e1-b1b1-0050568901d9"}
	testToday = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
)

func newKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func issue(t testing.TB, priv ed25519.PrivateKey, l License) []byte {
	t.Helper()
	data, err := Issue(priv, l)
	if err != nil {
		t.Fatalf("Issue(%+v): %v", l, err)
	}
	return data
}

func TestIssueParseVerify(t *testing.T) {
	pub, priv := newKey(t)
	in := License{ID: "LIC-1", Feature: CAS, Count: 100, UDI: testUDI,
		Issued: testToday.Add(13 * time.Hour), Expires: testToday.AddDate(1, 0, 0)}
	data := issue(t, priv, in)
	want := "hafw-license: 1\nid: LIC-1\nfeature: cas\ncount: 100\n" +
		"udi: AIR-MSE-VA-K9:V01:mse1_d5972642-5696-11e1-bd0c-0050568901d6\n" +
		"issued: 2026-11-22\nexpires: 2027-11-22\nsignature: "
	if !strings.HasPrefix(string(data), want) {
		t.Fatalf("license file:\n%s\nwant it to start with:\n%s", data, want)
	}
	l, err := Verify(data, pub, testUDI, testToday)
	if err != nil {
		t.Fatal(err)
	}
	in.Issued = testToday
	if l != in {
		t.Fatalf("Verify gave %+v, want %+v", l, in)
	}
	if p, err := Parse(data); err != nil || p != l {
		t.Fatalf("Parse gave %+v, %v", p, err)
	}
	// A file that went through a Windows editor still verifies.
	crlf := bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
	if _, err := Verify(crlf, pub, testUDI, testToday); err != nil {
		t.Fatalf("CRLF file: %v", err)
	}
}

func TestIssueDefaults(t *testing.T) {
	_, priv := newKey(t)
	data := issue(t, priv, License{Feature: Activation, Count: 1, UDI: testUDI, Issued: testToday})
	l, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(l.ID, "LIC-") || !l.Expires.IsZero() || !bytes.Contains(data, []byte("\nexpires: never\n")) {
		t.Fatalf("defaults: %+v\n%s", l, data)
	}
	for _, bad := range []License{
		{Feature: Activation, Count: 2, UDI: testUDI, Issued: testToday},
		{Feature: "gold", Count: 1, UDI: testUDI, Issued: testToday},
		{Feature: CAS, Count: 0, UDI: testUDI, Issued: testToday},
		{Feature: CAS, Count: 1, UDI: UDI{PID: "X"}, Issued: testToday},
		{Feature: CAS, Count: 1, UDI: testUDI},
		{Feature: CAS, Count: 1, UDI: testUDI, Issued: testToday, Expires: testToday.AddDate(0, 0, -1)},
		{ID: "../etc/passwd", Feature: CAS, Count: 1, UDI: testUDI, Issued: testToday},
	} {
		if _, err := Issue(priv, bad); err == nil {
			t.Errorf("Issue(%+v) succeeded", bad)
		}
	}
	if _, err := Issue(priv[:10], License{Feature: CAS, Count: 1, UDI: testUDI, Issued: testToday}); err == nil {
		t.Error("Issue with a short key succeeded")
	}
}

// signRaw signs arbitrary field text the way Issue would, so tests can make
// validly signed files that Issue itself refuses to produce.
func signRaw(priv ed25519.PrivateKey, body string) []byte {
	return []byte(body + "signature: " + base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(body))) + "\n")
}

// TestBadInput: each kind of bad license is refused with a
// one-line reason that says what is wrong.
func TestBadInput(t *testing.T) {
	pub, priv := newKey(t)
	otherPub, otherPriv := newKey(t)
	_ = otherPub
	good := issue(t, priv, License{ID: "LIC-7", Feature: WIPSMonitor, Count: 10, UDI: testUDI, Issued: testToday, Expires: testToday.AddDate(0, 1, 0)})

	tamperedCount := bytes.Replace(good, []byte("count: 10\n"), []byte("count: 90\n"), 1)
	// Flip one bit of the signature itself.
	tamperedSig := append([]byte(nil), good...)
	i := bytes.Index(tamperedSig, []byte("signature: ")) + len("signature: ")
	sig, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(tamperedSig[i:])))
	sig[5] ^= 1
	tamperedSig = append(tamperedSig[:i], []byte(base64.StdEncoding.EncodeToString(sig)+"\n")...)

	body := "hafw-license: 1\nid: LIC-9\nfeature: gold\ncount: 1\nudi: " + testUDI.String() + "\nissued: 2026-11-22\nexpires: never\n"
	cases := []struct {
		name   string
		data   []byte
		now    time.Time
		want   error
		reason string
	}{
		{"tampered count", tamperedCount, testToday, ErrBadSignature, "tampered"},
		{"tampered signature", tamperedSig, testToday, ErrBadSignature, "tampered"},
		{"wrong key", issue(t, otherPriv, License{ID: "LIC-8", Feature: CAS, Count: 1, UDI: testUDI, Issued: testToday}), testToday, ErrBadSignature, "another vendor key"},
		{"other UDI", issue(t, priv, License{ID: "LIC-8", Feature: CAS, Count: 1, UDI: otherUDI, Issued: testToday}), testToday, ErrWrongUDI, "issued for " + otherUDI.String()},
		{"expired", good, testToday.AddDate(0, 1, 1), ErrExpired, "valid through 2026-12-22"},
		{"unknown feature", signRaw(priv, body), testToday, ErrUnknownFeature, `"gold"`},
		{"empty", nil, testToday, ErrMalformed, "final newline"},
		{"garbage", []byte("hello\n"), testToday, ErrMalformed, "lines"},
		{"missing line", bytes.Replace(good, []byte("issued: 2026-11-22\n"), nil, 1), testToday, ErrMalformed, "lines"},
		{"reordered", signRaw(priv, strings.Replace(body, "id: LIC-9\nfeature: gold\n", "feature: gold\nid: LIC-9\n", 1)), testToday, ErrMalformed, "line 2"},
		{"leading zero", signRaw(priv, strings.Replace(strings.Replace(body, "gold", "cas", 1), "count: 1\n", "count: 01\n", 1)), testToday, ErrMalformed, "count"},
		{"bad date", signRaw(priv, strings.Replace(strings.Replace(body, "gold", "cas", 1), "2026-11-22", "22.11.2026", 1)), testToday, ErrMalformed, "YYYY-MM-DD"},
		{"zero expiry", signRaw(priv, strings.Replace(strings.Replace(body, "gold", "cas", 1), "expires: never", "expires: 0001-01-01", 1)), testToday, ErrMalformed, "YYYY-MM-DD"},
		{"version 2", bytes.Replace(good, []byte("hafw-license: 1"), []byte("hafw-license: 2"), 1), testToday, ErrMalformed, "format version"},
		{"huge", bytes.Repeat([]byte("x"), 5000), testToday, ErrMalformed, "at most"},
		{"short signature", append(bytes.SplitAfter(good, []byte("signature: "))[0], []byte("AAAA\n")...), testToday, ErrMalformed, "signature"},
	}
	for _, c := range cases {
		_, err := Verify(c.data, pub, testUDI, c.now)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, c.reason) {
			t.Errorf("%s: reason %q, want one line mentioning %q", c.name, msg, c.reason)
		}
	}
	// The good license is valid on every day up to and including its expiry day.
	if _, err := Verify(good, pub, testUDI, testToday.AddDate(0, 1, 1).Add(-time.Nanosecond)); err != nil {
		t.Errorf("last second of the expiry day: %v", err)
	}
	// The issued date does not matter (a clock not yet set by NTP).
	if _, err := Verify(good, pub, testUDI, time.Unix(0, 0)); err != nil {
		t.Errorf("clock at 1970: %v", err)
	}
	if _, err := Verify(good, pub[:5], testUDI, testToday); !errors.Is(err, ErrBadSignature) {
		t.Errorf("truncated public key: %v", err)
	}
}

// FuzzParse: nothing panics; whatever parses has a canonical form that
// parses back to the same license, and a failure is always one of the
// documented reasons on one line.
func FuzzParse(f *testing.F) {
	_, priv := newKey(f)
	f.Add(issue(f, priv, License{ID: "LIC-1", Feature: CAS, Count: 100, UDI: testUDI, Issued: testToday, Expires: testToday.AddDate(1, 0, 0)}))
	f.Add(issue(f, priv, License{ID: "LIC-2", Feature: Activation, Count: 1, UDI: otherUDI, Issued: testToday}))
	f.Add([]byte("hafw-license: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownFeature) {
				t.Fatalf("error %v matches no documented reason", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("reason is not one line: %q", err.Error())
			}
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("parsed license does not validate: %v", err)
		}
		again, err := Parse(append(l.canonical(), []byte("signature: "+base64.StdEncoding.EncodeToString(make([]byte, 64))+"\n")...))
		if err != nil || again != l {
			t.Fatalf("canonical form does not round-trip: %+v vs %+v (%v)", l, again, err)
		}
	})
}

// FuzzParseFields fuzzes the field values inside a well-formed frame, where
// byte-level FuzzParse rarely gets: a value that parses must be the one
// canonical spelling (the file re-encodes to the same bytes).
func FuzzParseFields(f *testing.F) {
	f.Add("LIC-1", "cas", "100", testUDI.String(), "2026-11-22", "never")
	f.Add("a", "activation", "1", "A:V01:b", "2000-02-29", "2000-03-01")
	f.Fuzz(func(t *testing.T, id, feature, count, udi, issued, expires string) {
		body := "hafw-license: 1\nid: " + id + "\nfeature: " + feature + "\ncount: " + count +
			"\nudi: " + udi + "\nissued: " + issued + "\nexpires: " + expires + "\n"
		file := body + "signature: " + base64.StdEncoding.EncodeToString(make([]byte, 64)) + "\n"
		l, err := Parse([]byte(file))
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownFeature) {
				t.Fatalf("error %v matches no documented reason", err)
			}
			return
		}
		if got := string(l.canonical()); got != body {
			t.Fatalf("accepted a non-canonical spelling:\n%q\ncanonical:\n%q", body, got)
		}
	})
}
