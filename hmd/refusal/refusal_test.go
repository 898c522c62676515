package refusal

import (
	"errors"
	"fmt"
	"testing"
)

// TestEveryReasonHasACode: a reason added without a code would reach API
// clients as "" (or as two reasons under one code).
func TestEveryReasonHasACode(t *testing.T) {
	seen := map[string]Reason{}
	for _, r := range All() {
		code := r.String()
		if code == "" {
			t.Errorf("reason %d has no code", int(r))
			continue
		}
		if prev, dup := seen[code]; dup {
			t.Errorf("reasons %d and %d share the code %q", int(prev), int(r), code)
		}
		seen[code] = r
	}
	if got, want := numReasons.String(), fmt.Sprintf("refusal(%d)", int(numReasons)); got != want {
		t.Errorf("a reason past the last reads %q, want %q", got, want)
	}
}

func TestErrorWordsFieldsAndUnwraps(t *testing.T) {
	cause := errors.New("no route to host")
	e := New(WrongRole, "only a %s may", "primary").On("secondary_ip")
	e.Err = cause
	if got, want := e.Error(), "only a primary may: secondary_ip: only a primary may"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, cause) {
		t.Error("the refusal does not unwrap to its cause")
	}
	if got := New(NotPaired, "not paired").On(""); len(got.Fields) != 0 || got.Error() != "not paired" {
		t.Errorf("On(\"\") = %+v", got)
	}
}
