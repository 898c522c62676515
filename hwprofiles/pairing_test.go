package hwprofiles

import (
	"errors"
	"strings"
	"testing"
)

func mustLookup(t *testing.T, name string) Profile {
	t.Helper()
	p, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFigure2 checks every cell of the seed's figure 2, typed in here as the
// figure shows it (rows: primary, columns: secondary), independently of the
// map in pairing.go.
func TestFigure2(t *testing.T) {
	columns := []string{"3310", "3350", "3355", "VA-Low", "VA-Standard", "VA-High"}
	figure := []struct {
		primary string
		cells   string // Y/N per column
	}{
		{"3310", "YYYNNN"},
		{"3350", "NYYNNN"},
		{"3355", "NYYNNN"},
		{"VA-Low", "NNNYYY"},
		{"VA-Standard", "NNNNYY"},
		{"VA-High", "NNNNNY"},
	}
	cells := 0
	for _, row := range figure {
		for i, secondary := range columns {
			want := row.cells[i] == 'Y'
			err := CheckPairing(mustLookup(t, secondary), mustLookup(t, row.primary))
			if got := err == nil; got != want {
				t.Errorf("primary %s, secondary %s: supported=%v, figure 2 says %v (err %v)", row.primary, secondary, got, want, err)
			}
			if err != nil && !errors.Is(err, ErrUnsupportedPairing) {
				t.Errorf("primary %s, secondary %s: error %v is not ErrUnsupportedPairing", row.primary, secondary, err)
			}
			cells++
		}
	}
	if cells != 36 {
		t.Fatalf("checked %d cells, figure 2 has 36", cells)
	}
}

// Test3365 covers the seed's rule that a 3365 pairs only with a 3365, in both
// directions and against every other model.
func Test3365(t *testing.T) {
	m3365 := mustLookup(t, "3365")
	if err := CheckPairing(m3365, m3365); err != nil {
		t.Fatalf("3365 with 3365: %v", err)
	}
	for _, other := range All() {
		if other.Model == "3365" {
			continue
		}
		for _, err := range []error{CheckPairing(m3365, other), CheckPairing(other, m3365)} {
			var pe *PairingError
			if !errors.As(err, &pe) {
				t.Fatalf("3365 with %s: got %v, want *PairingError", other.Model, err)
			}
			if !strings.Contains(pe.Reason, "3365 pairs only with another 3365") {
				t.Errorf("3365 with %s: reason %q", other.Model, pe.Reason)
			}
		}
	}
}

// TestFigure3 covers every row of the seed's figure 3 and the N:1 rules of
// the seed's text, plus the combinations the figure leaves out.
func TestFigure3(t *testing.T) {
	cases := []struct {
		secondary string
		primaries []string
		ok        bool
		reason    string
	}{
		// Figure 3, row by row.
		{"3310", []string{"3310", "3310"}, false, "cannot be an N:1 secondary"},
		{"3350", []string{"3310", "3310"}, true, ""},
		{"3355", []string{"3310", "3310"}, true, ""},
		{"3355", []string{"3350", "3350"}, true, ""},
		{"3355", []string{"3310", "3350"}, true, ""},
		{"3355", []string{"3350", "3310"}, true, ""}, // order of primaries does not matter
		// Not in the figure, so not supported.
		{"3350", []string{"3350", "3350"}, false, "backs up only two 3310s"},
		{"3350", []string{"3310", "3350"}, false, "backs up only two 3310s"},
		{"3355", []string{"3355", "3355"}, false, "backs up only"},
		{"3355", []string{"3310", "3355"}, false, "backs up only"},
		{"3310", []string{"3310", "3350"}, false, "cannot be an N:1 secondary"},
		{"3365", []string{"3365", "3365"}, false, "cannot be an N:1 secondary"},
		// Virtual appliances support 1:1 HA only.
		{"VA-High", []string{"VA-Low", "VA-Low"}, false, "1:1 HA only"},
		{"VA-High", []string{"VA-High", "VA-High"}, false, "1:1 HA only"},
		{"3355", []string{"VA-Low", "3310"}, false, "1:1 HA only"},
		// Never more than two primaries.
		{"3355", []string{"3310", "3310", "3310"}, false, "at most 2 primaries"},
		{"3355", nil, false, "at least one primary"},
	}
	for _, c := range cases {
		primaries := make([]Profile, len(c.primaries))
		for i, n := range c.primaries {
			primaries[i] = mustLookup(t, n)
		}
		err := CheckPairing(mustLookup(t, c.secondary), primaries...)
		if c.ok {
			if err != nil {
				t.Errorf("%s backing %v: %v, want supported", c.secondary, c.primaries, err)
			}
			continue
		}
		var pe *PairingError
		if !errors.As(err, &pe) {
			t.Errorf("%s backing %v: got %v, want *PairingError", c.secondary, c.primaries, err)
			continue
		}
		if !strings.Contains(pe.Reason, c.reason) {
			t.Errorf("%s backing %v: reason %q, want it to mention %q", c.secondary, c.primaries, pe.Reason, c.reason)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("reason is not one line: %q", err.Error())
		}
	}
}

func TestPairingErrorText(t *testing.T) {
	err := CheckPairing(mustLookup(t, "3310"), mustLookup(t, "3350"))
	want := "secondary 3310 cannot back up 3350: the secondary must be the same or a higher specification than the primary"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	err = CheckPairing(mustLookup(t, "VA-High"), mustLookup(t, "3310"))
	if err == nil || !strings.Contains(err.Error(), "virtual appliances pair only with virtual appliances") {
		t.Fatalf("got %v", err)
	}
}

func TestLookupNames(t *testing.T) {
	for name, want := range map[string]string{
		"va-standard": "VA-Standard", "VA-Standard": "VA-Standard", "3355": "3355",
		"mse-3355": "3355", "MSE-3355": "3355", " va-low ": "VA-Low", "VA-HIGH": "VA-High",
	} {
		p, err := Lookup(name)
		if err != nil || p.Model != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", name, p.Model, err, want)
		}
	}
	for _, bad := range []string{"", "3320", "va", "mse-va"} {
		if _, err := Lookup(bad); !errors.Is(err, ErrUnknownModel) {
			t.Errorf("Lookup(%q): %v, want ErrUnknownModel", bad, err)
		}
	}
}
