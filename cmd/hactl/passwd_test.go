package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/internal/ptytest"
)

// With HAFW_TEST_HACTL=1 the test binary is hactl itself, so that a test
// can run it on a pseudo-terminal.
func TestMain(m *testing.M) {
	if os.Getenv("HAFW_TEST_HACTL") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// passwordHMD serves hmd's API on a unix socket with the real password
// change (api.Password) over a hash kept in memory; only the password
// route is used, so the rest of the backend is left nil.
type passwordHMD struct {
	api.Backend
	pw   *api.Password
	mu   sync.Mutex
	hash string
}

func (h *passwordHMD) ChangePassword(_ context.Context, client netip.Addr, req api.PasswordChange) (api.Result, error) {
	if err := h.pw.Change(client, req.Old, req.New); err != nil {
		return api.Result{}, err
	}
	return api.Result{Message: "The administrator password is changed."}, nil
}

func (h *passwordHMD) current() string { h.mu.Lock(); defer h.mu.Unlock(); return h.hash }

func servePasswordHMD(t *testing.T, password string) (*passwordHMD, string) {
	t.Helper()
	hash, err := config.HashPasswordCost(password, 1000)
	if err != nil {
		t.Fatal(err)
	}
	h := &passwordHMD{hash: hash}
	h.pw = &api.Password{Hash: h.current, Check: config.CheckPassword,
		Store: func(s string) error { h.mu.Lock(); defer h.mu.Unlock(); h.hash = s; return nil }}
	sock := filepath.Join(t.TempDir(), "hmd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: api.NewHandler(h, api.Local{}, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return h, sock
}

// TestPasswdFromStdin: a script gives the current and the new password as
// two lines; a wrong current one or a weak new one is refused with exit
// status 1 and the field's reason, changing nothing.
func TestPasswdFromStdin(t *testing.T) {
	h, sock := servePasswordHMD(t, "first-Password")
	before := h.current()
	c := api.NewUnixClient(sock)
	passwdStdin := func(input string) (string, error) {
		var out, errOut bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := passwd(ctx, c, []string{"--stdin"}, strings.NewReader(input), &out, &errOut)
		return out.String(), err
	}
	for _, c := range []struct{ input, want string }{
		{"wrong-Password\nsecond-one-42\n", "old: is not the current administrator password"},
		{"first-Password\nshort\n", "new: the password must have at least 10 characters"},
		{"first-Password\n", "--stdin needs two lines"},
		{"", "--stdin needs two lines"},
	} {
		if _, err := passwdStdin(c.input); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("input %q: %v, want %q", c.input, err, c.want)
		}
	}
	if h.current() != before {
		t.Fatal("a refused change stored a hash")
	}
	if out, err := passwdStdin("first-Password\nsecond-one-42"); err != nil || !strings.Contains(out, "changed") {
		t.Fatalf("change: %v %q", err, out)
	}
	if !config.CheckPassword(h.current(), "second-one-42") {
		t.Error("the new password was not stored")
	}
	sockNone := filepath.Join(t.TempDir(), "none.sock")
	checkExits(t, []exitCase{
		{[]string{"--socket", sockNone, "passwd", "extra"}, 2, "unexpected arguments"},
		{[]string{"--socket", sockNone, "passwd", "-h"}, 0, "two lines of standard input"},
	})
}

// TestPasswdOnPseudoTerminal: at a terminal hactl asks the current
// password and the new one twice, echoing none of them; a retyped password
// that differs changes nothing (exit 1), and without a terminal hactl says
// to use --stdin (exit 2).
func TestPasswdOnPseudoTerminal(t *testing.T) {
	h, sock := servePasswordHMD(t, "first-Password")
	before := h.current()
	start := func() *ptytest.Terminal {
		cmd := exec.Command(os.Args[0], "--socket", sock, "passwd")
		cmd.Env = append(os.Environ(), "HAFW_TEST_HACTL=1")
		return ptytest.Start(t, cmd)
	}
	term := start()
	term.Answer("Current administrator password: ", "first-Password")
	term.Answer("New administrator password: ", "second-one-42")
	term.Answer("Retype the new administrator password: ", "second-one-43")
	term.Expect("hactl passwd: the new passwords differ; nothing was changed")
	var ee *exec.ExitError
	if err := term.Exit(); !errors.As(err, &ee) || ee.ExitCode() != 1 || h.current() != before {
		t.Fatalf("mismatch: exit %v, stored hash changed: %v", err, h.current() != before)
	}

	term = start()
	term.Answer("Current administrator password: ", "first-Password")
	term.Answer("New administrator password: ", "second-one-42")
	term.Answer("Retype the new administrator password: ", "second-one-42")
	term.Expect("The administrator password is changed.")
	term.Wait()
	if out := term.Output(); strings.Contains(out, "first-Password") || strings.Contains(out, "second-one") {
		t.Errorf("the terminal echoed a password:\n%s", out)
	}
	if !config.CheckPassword(h.current(), "second-one-42") {
		t.Error("the new password was not stored")
	}

	var out, errOut bytes.Buffer
	cmd := exec.Command(os.Args[0], "--socket", sock, "passwd")
	cmd.Env = append(os.Environ(), "HAFW_TEST_HACTL=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader("x\n"), &out, &errOut
	if err := cmd.Run(); !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(errOut.String(), "standard input is not a terminal: give the passwords as two lines with --stdin") {
		t.Errorf("without a terminal: %v, %q", err, errOut.String())
	}
}
