package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestRunExitStatuses(t *testing.T) {
	type env struct{ greeting string }
	tool := Tool{Name: "demo", Synopsis: "COMMAND", Commands: Bind(map[string]EnvCommand[env]{
		"ok": {"succeeds", func(_ context.Context, e env, args []string, out, _ io.Writer) error {
			fmt.Fprintln(out, e.greeting, strings.Join(args, " "))
			return nil
		}},
		"no": {"answers no", func(context.Context, env, []string, io.Writer, io.Writer) error {
			return Failf("not supported: %s", "reason")
		}},
		"bad":   {"usage mistake", func(context.Context, env, []string, io.Writer, io.Writer) error { return Usagef("missing --x") }},
		"quiet": {"already said it", func(context.Context, env, []string, io.Writer, io.Writer) error { return &ExitError{Code: 1} }},
		"boom":  {"plain error", func(context.Context, env, []string, io.Writer, io.Writer) error { return errors.New("disk full") }},
		"hint":  {"shows help", func(context.Context, env, []string, io.Writer, io.Writer) error { return flag.ErrHelp }},
	}, env{greeting: "hello"})}
	cases := []struct {
		args       []string
		code       int
		out, inErr string
	}{
		{[]string{"ok", "a", "b"}, 0, "hello a b\n", ""},
		{[]string{"no"}, 1, "", "demo no: not supported: reason\n"},
		{[]string{"bad"}, 2, "", "demo bad: missing --x\n"},
		{[]string{"quiet"}, 1, "", ""},
		{[]string{"boom"}, 1, "", "demo boom: disk full\n"},
		{[]string{"hint"}, 0, "", ""},
		{[]string{"nope"}, 2, "", `demo: unknown command "nope"`},
		{nil, 2, "", "usage: demo COMMAND"},
		{[]string{"--help"}, 0, "", "Run 'demo COMMAND -h'"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		code := tool.Run(context.Background(), c.args, &out, &errOut)
		if code != c.code || out.String() != c.out || !strings.Contains(errOut.String(), c.inErr) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d, %q, containing %q", c.args, code, out.String(), errOut.String(), c.code, c.out, c.inErr)
		}
		if c.inErr == "" && errOut.Len() != 0 {
			t.Errorf("%q: unexpected stderr %q", c.args, errOut.String())
		}
	}
}

func TestProgress(t *testing.T) {
	var b strings.Builder
	p := Progress{W: &b}
	for _, n := range []int64{0, 1, 10 << 20, 11 << 20, 20 << 20} {
		p.Show("write", n, 20<<20)
	}
	p.Show("verify", 5, 0)
	p.Show("verify", 9, 0)
	want := "write: 0% (0.0 of 20.0 MiB)\nwrite: 50% (10.0 of 20.0 MiB)\nwrite: 100% (20.0 of 20.0 MiB)\nverify…\n"
	if b.String() != want {
		t.Fatalf("progress:\n%s\nwant:\n%s", b.String(), want)
	}
}
