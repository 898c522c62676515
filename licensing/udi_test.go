package licensing

import (
	"errors"
	"testing"
)

func TestParseUDIRoundTrip(t *testing.T) {
	for _, s := range []string{
		"AIR-MSE-VA-K9:V01:mse2_666f2046-5699-11e1-b1b1-0050568901d9",
		"AIR-MSE-VA-K9:V01:NicoMSE_b950a7c0-b68c-11e4-99d9-005056993b63",
		"AIR-MSE-3355-K9:V01:KQ45xx",
		"AIR-MSE-3310-K9:V01:FTX140xx",
		"AIR-MSE-3350-K9:V01:MXQ839xx",
		"AIR-MSE-VA-K9:V01:mse1",
		"A:V99:x",
	} {
		u, err := ParseUDI(s)
		if err != nil {
			t.Errorf("ParseUDI(%q): %v", s, err)
			continue
		}
		if u.String() != s {
			t.Errorf("ParseUDI(%q).String() = %q", s, u.String())
		}
	}
	u, _ := ParseUDI("AIR-MSE-3355-K9:V01:KQ45xx")
	if u != (UDI{PID: "AIR-MSE-3355-K9", VID: "V01", SN: "KQ45xx"}) {
		t.Errorf("parts: %+v", u)
	}
}

func TestParseUDIRejects(t *testing.T) {
	for _, s := range []string{
		"",
		"AIR-MSE-VA-K9",
		"AIR-MSE-VA-K9:V01",
		"AIR-MSE-VA-K9:V01:a:b",
		"air-mse-va-k9:V01:mse1",            // lower-case PID
		"AIR-MSE-VA-K9-:V01:mse1",           // PID ends in '-'
		"AIR-MSE-VA-K9:V1:mse1",             // VID needs two digits
		"AIR-MSE-VA-K9:v01:mse1",            // VID upper-case V
		"AIR-MSE-VA-K9:V01:",                // empty serial
		"AIR-MSE-VA-K9:V01:NicoMSE2 1c6b19", // space in serial
		"AIR-MSE-VA-K9:V01:_mse1",           // serial starts with '_'
		" AIR-MSE-VA-K9:V01:mse1",           // not trimmed
		"AIR-MSE-VA-K9:V01:mse1\n",
		"AIR-MSE-VA-K9:V01:" + string(make([]byte, 129)),
	} {
		if _, err := ParseUDI(s); !errors.Is(err, ErrMalformedUDI) {
			t.Errorf("ParseUDI(%q) = %v, want ErrMalformedUDI", s, err)
		}
	}
}

// FuzzParseUDI: whatever parses must format back to the same text and
// validate; nothing may panic.
func FuzzParseUDI(f *testing.F) {
	f.Add("AIR-MSE-VA-K9:V01:mse2_666f2046-5699-11e1-b1b1-0050568901d9")
	f.Add("AIR-MSE-3355-K9:V01:KQ45xx")
	f.Add("a:b:c")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUDI(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedUDI) {
				t.Fatalf("error %v does not match ErrMalformedUDI", err)
			}
			return
		}
		if u.String() != s {
			t.Fatalf("round trip: %q -> %q", s, u.String())
		}
		if err := u.Validate(); err != nil {
			t.Fatalf("parsed UDI does not validate: %v", err)
		}
	})
}
