package cli

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// ReadPassword prints prompt on out and reads one line at the terminal fd
// without echo (the setup wizard's and hactl passwd's password prompts).
// The echo goes off before the prompt is shown, so nothing typed after the
// prompt appears, however fast it is typed. An interrupt (ctrl-C) or
// SIGTERM while it waits gives the terminal its echo back and exits with
// status 130: the signal's default action would leave the console silent.
func ReadPassword(fd int, prompt string, out io.Writer) (string, error) {
	saved, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("read the terminal's settings: %w", err)
	}
	defer term.Restore(fd, saved)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	defer func() {
		signal.Stop(sig)
		close(done)
	}()
	go func() {
		select {
		case <-sig:
			_ = term.Restore(fd, saved)
			fmt.Fprintf(out, "\ninterrupted; nothing was changed.\n")
			os.Exit(130)
		case <-done:
		}
	}()
	tios, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", fmt.Errorf("read the terminal's settings: %w", err)
	}
	tios.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, tios); err != nil {
		return "", fmt.Errorf("turn the terminal's echo off: %w", err)
	}
	fmt.Fprint(out, prompt)
	b, err := term.ReadPassword(fd) // reads the line; the echo stays off
	fmt.Fprintln(out)               // the Enter that ended it was not echoed either
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	return string(b), nil
}
