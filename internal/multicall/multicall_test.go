package multicall

import (
	"errors"
	"slices"
	"testing"
)

func TestResolve(t *testing.T) {
	names := []string{"hactl", "hmd", "init"}
	for _, c := range []struct {
		args     []string
		name     string
		wantArgs []string
	}{
		{[]string{"/init"}, "init", []string{"/init"}},
		{[]string{"/bin/init", "--x"}, "init", []string{"/bin/init", "--x"}},
		{[]string{"/bin/hmd", "--recovery"}, "hmd", []string{"/bin/hmd", "--recovery"}},
		{[]string{"hactl", "status"}, "hactl", []string{"hactl", "status"}},
		{[]string{"/bin/hafw-multi", "hactl", "status"}, "hactl", []string{"hactl", "status"}},
		{[]string{"hafw-multi", "/bin/hmd"}, "hmd", []string{"/bin/hmd"}},
	} {
		name, args, err := Resolve("hafw-multi", names, c.args)
		if err != nil || name != c.name || !slices.Equal(args, c.wantArgs) {
			t.Errorf("Resolve(%q) = %q, %q, %v; want %q, %q", c.args, name, args, err, c.name, c.wantArgs)
		}
	}
	for _, args := range [][]string{nil, {"/bin/ls"}, {"hafw-multi"}, {"hafw-multi", "ls"}, {"hafw-multi", "hafw-multi", "hmd"}} {
		if name, _, err := Resolve("hafw-multi", names, args); !errors.Is(err, ErrUnknown) {
			t.Errorf("Resolve(%q) = %q, %v; want ErrUnknown", args, name, err)
		}
	}
}
