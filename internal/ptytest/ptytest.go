// Package ptytest runs a command on a pseudo-terminal for a test and plays
// the operator at its keyboard: wait for a prompt, type an answer. The
// setup wizard's tests and the end-to-end tests that configure an
// appliance through the wizard share it.
package ptytest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Timeout bounds each wait for output or for the command's exit; generous,
// for a busy machine (the wizard hashes a password with PBKDF2).
const Timeout = time.Minute

// Terminal is the operator's side of the pseudo-terminal.
type Terminal struct {
	t    testing.TB
	f    *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	seen int // output already matched

	exited  chan struct{} // closed when the command has exited
	waitErr error         // the command's exit, once exited is closed
}

// Start runs cmd on a new pseudo-terminal; the test's cleanup kills it.
func Start(t testing.TB, cmd *exec.Cmd) *Terminal {
	t.Helper()
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	term := &Terminal{t: t, f: f, exited: make(chan struct{})}
	go term.read()
	go func() { term.waitErr = cmd.Wait(); close(term.exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-term.exited
		f.Close()
	})
	return term
}

func (term *Terminal) read() {
	buf := make([]byte, 4096)
	for {
		n, err := term.f.Read(buf)
		term.mu.Lock()
		term.out.Write(buf[:n])
		term.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// Expect waits until want appears in output not yet matched.
func (term *Terminal) Expect(want string) {
	term.t.Helper()
	deadline := time.Now().Add(Timeout)
	for time.Now().Before(deadline) {
		term.mu.Lock()
		rest := term.out.String()[term.seen:]
		if i := strings.Index(rest, want); i >= 0 {
			term.seen += i + len(want)
			term.mu.Unlock()
			return
		}
		term.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	term.mu.Lock()
	defer term.mu.Unlock()
	term.t.Fatalf("terminal never showed %q; after the last match it shows:\n%s", want, term.out.String()[term.seen:])
}

// Send types text as it is (no Enter): control characters such as
// "\x03" (ctrl-C).
func (term *Terminal) Send(text string) {
	term.t.Helper()
	if _, err := term.f.Write([]byte(text)); err != nil {
		term.t.Fatal(err)
	}
}

// Echo reports whether the terminal echoes what is typed (the command
// turns it off to read a password).
func (term *Terminal) Echo() bool {
	term.t.Helper()
	tios, err := unix.IoctlGetTermios(int(term.f.Fd()), unix.TCGETS)
	if err != nil {
		term.t.Fatalf("read the terminal's settings: %v", err)
	}
	return tios.Lflag&unix.ECHO != 0
}

// Type types text followed by Enter.
func (term *Terminal) Type(text string) {
	term.t.Helper()
	if _, err := term.f.Write([]byte(text + "\r")); err != nil {
		term.t.Fatal(err)
	}
}

// Answer waits for prompt and types the answer with Enter.
func (term *Terminal) Answer(prompt, typed string) {
	term.t.Helper()
	term.Expect(prompt)
	term.Type(typed)
}

// Output is everything the terminal showed so far.
func (term *Terminal) Output() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()
}

// Wait expects the command to exit successfully.
func (term *Terminal) Wait() {
	term.t.Helper()
	if err := term.Exit(); err != nil {
		term.t.Fatalf("the command exited: %v\n%s", err, term.Output())
	}
}

// Exit waits for the command to exit and returns how (cmd.Wait's error).
func (term *Terminal) Exit() error {
	term.t.Helper()
	select {
	case <-term.exited:
		return term.waitErr
	case <-time.After(Timeout):
		term.t.Fatalf("the command did not exit\n%s", term.Output())
		return nil
	}
}
