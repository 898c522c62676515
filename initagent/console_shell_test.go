package initagent

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hafw/hafw/config"
)

// TestConsoleLogin: the shell starts only after the configured password;
// a wrong password or no configured password gets a clear line and no
// shell; the dialogue ends when the console input does.
func TestConsoleLogin(t *testing.T) {
	hash, err := config.HashPassword("s3cret-pw")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, hash, input string
		shells            int
		want              []string
	}{
		{"right password", hash, "\ns3cret-pw\r\n", 1, []string{"Password: \nhafw-console: shell started (exit to leave)\n"}},
		{"wrong, then right", hash, "\nguess\n\ns3cret-pw\n", 1, []string{"hafw-console: login incorrect\n", "shell started"}},
		{"wrong only", hash, "\nguess\n", 0, []string{"hafw-console: login incorrect\n"}},
		{"no password configured", "", "\n\n", 0, []string{"no administrator password is configured"}},
		{"input closed at the password", hash, "\ns3cret", 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			shells := 0
			l := consoleLogin{
				in: strings.NewReader(c.input), out: &out,
				passwordHash: func() string { return c.hash },
				shell:        func() error { shells++; return nil },
			}
			if err := l.serve(context.Background()); !errors.Is(err, errNoInput) {
				t.Fatalf("serve: %v, want errNoInput", err)
			}
			if shells != c.shells {
				t.Errorf("%d shells started, want %d\n%s", shells, c.shells, out.String())
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("console lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestConsoleLoginCancel: a canceled context ends the dialogue before it
// offers anything.
func TestConsoleLoginCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	l := consoleLogin{in: strings.NewReader("\n"), out: &out, passwordHash: func() string { return "" }, shell: func() error { return nil }}
	if err := l.serve(ctx); !errors.Is(err, context.Canceled) || out.Len() != 0 {
		t.Fatalf("serve: %v, console %q", err, out.String())
	}
}

// TestConsolePasswordFollowsTheStoredConfiguration: a password changed
// while the appliance runs (hmd rewrites the configuration) is the one the
// console login checks, without a reload; the boot's copy stands in when
// the file cannot be read.
func TestConsolePasswordFollowsTheStoredConfiguration(t *testing.T) {
	a, _, _ := testAgent(t, "console=ttyS0\n")
	boot := config.Default()
	boot.PasswordHash = "boot-hash"
	r := &runtime{a: a, b: &bootState{cfg: boot}}
	if got := r.consolePasswordHash(); got != "boot-hash" {
		t.Errorf("without a stored configuration: %q, want the boot's", got)
	}
	stored := boot
	var err error
	if stored.PasswordHash, err = config.HashPasswordCost("changed-Later-1", 1000); err != nil {
		t.Fatal(err)
	}
	if err := config.Save(a.Paths.Layout().ConfigFile(), stored); err != nil {
		t.Fatal(err)
	}
	if got := r.consolePasswordHash(); got != stored.PasswordHash {
		t.Errorf("after a change on disk: %q, want %q", got, stored.PasswordHash)
	}
}
