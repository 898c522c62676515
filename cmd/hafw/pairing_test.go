package main

import (
	"strings"
	"testing"
)

func TestPairingCheck(t *testing.T) {
	cases := []struct {
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{[]string{"--secondary", "3355", "--primary", "3310"}, 0, "supported\n", ""},
		{[]string{"--secondary", "mse-3355", "--primary", "3310", "--primary", "MSE-3350"}, 0, "supported\n", ""},
		{[]string{"--secondary", "VA-Standard", "--primary", "va-standard"}, 0, "supported\n", ""},
		{[]string{"--secondary", "va-high", "--primary", "VA-Low"}, 0, "supported\n", ""},
		{[]string{"--secondary", "va-low", "--primary", "VA-High"}, 1, "not supported: secondary VA-Low cannot back up VA-High: the secondary must be the same or a higher specification", ""},
		{[]string{"--secondary", "3365", "--primary", "3355"}, 1, "a 3365 pairs only with another 3365", ""},
		{[]string{"--secondary", "3310", "--primary", "3310", "--primary", "3310"}, 1, "cannot be an N:1 secondary", ""},
		{[]string{"--secondary", "va-high", "--primary", "va-low", "--primary", "va-low"}, 1, "1:1 HA only", ""},
		{[]string{"--secondary", "3355", "--primary", "3310", "--primary", "3310", "--primary", "3310"}, 1, "at most 2 primaries", ""},
		{[]string{"--secondary", "3320", "--primary", "3310"}, 2, "", `unknown appliance model "3320"`},
		{[]string{"--secondary", "3355", "--primary", "va-medium"}, 2, "", `unknown appliance model "va-medium"`},
		{[]string{"--secondary", "3355"}, 2, "", "need --secondary and at least one --primary"},
		{[]string{"--secondary", "3355", "--primary", "3310", "extra"}, 2, "", "unexpected arguments"},
		{[]string{"--bogus"}, 2, "", "flag provided but not defined"},
	}
	for _, c := range cases {
		code, out, errOut := hafw(t, append([]string{"pairing", "check"}, c.args...)...)
		if code != c.code || !strings.Contains(out, c.stdout) || !strings.Contains(errOut, c.stderr) {
			t.Errorf("hafw pairing check %v: exit %d, stdout %q, stderr %q; want exit %d, stdout ~%q, stderr ~%q",
				c.args, code, out, errOut, c.code, c.stdout, c.stderr)
		}
		if c.code == 1 && strings.Count(out, "\n") != 1 {
			t.Errorf("%v: reason is not one line: %q", c.args, out)
		}
	}
	if code, _, _ := hafw(t, "pairing"); code != 2 {
		t.Errorf("hafw pairing without check: exit %d", code)
	}
	if code, _, _ := hafw(t, "pairing", "list"); code != 2 {
		t.Errorf("hafw pairing list: exit %d", code)
	}
}
