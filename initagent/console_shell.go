package initagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/supervise"
)

// consoleLogin is the operator shell of a configured appliance's console.
// The console is physical (or hypervisor) access, so the shell is offered
// there only; it is still behind the administrator password of the stored
// configuration, and no password means no shell. The dialogue is kept apart
// from the console device so that it can be tested on pipes.
type consoleLogin struct {
	// in is read a byte at a time, so that nothing typed for the shell is
	// swallowed by a buffer here.
	in  io.Reader
	out io.Writer
	// readPassword reads one line without echo (nil: read it as any line).
	readPassword func() (string, error)
	// passwordHash returns the current administrator password hash.
	passwordHash func() string
	// shell runs the shell on the console until it exits.
	shell func() error
	// pause is the delay after a wrong password.
	pause time.Duration
}

// errNoInput ends the dialogue when the console has no more input.
var errNoInput = errors.New("console input closed")

// serve offers the login until ctx ends or the console input does.
func (l consoleLogin) serve(ctx context.Context) error {
	for ctx.Err() == nil {
		fmt.Fprint(l.out, "hafw-console: press Enter for an operator shell\n")
		if _, err := readLine(l.in); err != nil {
			return err
		}
		fmt.Fprint(l.out, "Password: ")
		password, err := l.password()
		fmt.Fprint(l.out, "\n")
		if err != nil {
			return err
		}
		hash := l.passwordHash()
		switch {
		case hash == "":
			fmt.Fprint(l.out, "hafw-console: no administrator password is configured (set one with setup); no shell\n")
		case !config.CheckPassword(hash, password):
			fmt.Fprint(l.out, "hafw-console: login incorrect\n")
			select {
			case <-ctx.Done():
			case <-time.After(l.pause):
			}
		default:
			fmt.Fprint(l.out, "hafw-console: shell started (exit to leave)\n")
			if err := l.shell(); err != nil {
				fmt.Fprintf(l.out, "hafw-console: shell: %v\n", err)
			}
		}
	}
	return ctx.Err()
}

func (l consoleLogin) password() (string, error) {
	if l.readPassword != nil {
		return l.readPassword()
	}
	return readLine(l.in)
}

// readLine reads up to a newline (not included; a CR before it is dropped).
func readLine(r io.Reader) (string, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				return strings.TrimSuffix(string(line), "\r"), nil
			}
			line = append(line, b[0])
			continue
		}
		if err == io.EOF {
			return "", errNoInput
		}
		if err != nil {
			return "", fmt.Errorf("reading the console: %w", err)
		}
	}
}

// shellPath finds u-root's gosh: /bbin/gosh (a link to the busybox
// /bbin/bb, which dispatches on its name), or /bin/gosh.
func (a *Agent) shellPath() (string, error) {
	for _, p := range []string{filepath.Join(filepath.Dir(a.Paths.Bin), "bbin", "gosh"), filepath.Join(a.Paths.Bin, "gosh")} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("neither bbin/gosh nor %s/gosh is in the image", a.Paths.Bin)
}

// consolePasswordHash is the administrator password hash the console login
// checks: the stored configuration's as it is now, since hactl passwd (hmd's
// POST /v1/password) changes it there while the appliance runs; the boot's
// copy if the file cannot be read.
func (r *runtime) consolePasswordHash() string {
	if cfg, err := config.Load(r.a.Paths.Layout().ConfigFile()); err == nil {
		return cfg.PasswordHash
	}
	return r.boot().cfg.PasswordHash
}

// offerShell runs the console login of a configured appliance: gosh (u-root's
// shell) after the administrator password.
func (r *runtime) offerShell(ctx context.Context, reaper *supervise.Reaper) {
	path, err := r.a.shellPath()
	if err != nil {
		r.a.consolef("hafw-init: warning: no operator shell: %v", err)
		return
	}
	fd := int(os.Stdin.Fd())
	l := consoleLogin{
		in: os.Stdin, out: r.a.Console, pause: 2 * time.Second,
		passwordHash: r.consolePasswordHash,
		shell: func() error {
			cmd := newConsoleCommand(path)
			cmd.Args[0] = "gosh" // the busybox dispatches on its name
			cmd.Env = []string{"PATH=/bin:/sbin:/bbin", "HOME=/", "TERM=vt100"}
			exited, err := reaper.Start(cmd)
			if err != nil {
				return err
			}
			select {
			case ws := <-exited:
				if ws.ExitStatus() != 0 {
					return fmt.Errorf("exit status %d", ws.ExitStatus())
				}
			case <-ctx.Done():
			}
			return nil
		},
	}
	if term.IsTerminal(fd) {
		l.readPassword = func() (string, error) {
			b, err := term.ReadPassword(fd)
			return string(b), err
		}
	}
	if err := l.serve(ctx); err != nil && ctx.Err() == nil {
		r.a.consolef("hafw-init: operator shell no longer offered: %v", err)
	}
}
