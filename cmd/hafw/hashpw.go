package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hafw/hafw/config"
)

// runHashPassword reads an administrator password on standard input (one
// line) and prints its stored form, for hafw.password= on the kernel
// command line or the OVF password property: the appliance stores a hash
// as given, so the password itself never appears in /proc/cmdline. The
// password must pass the same rule as the setup wizard's
// (config.CheckPasswordStrength): a hash cannot be checked later.
func runHashPassword(_ context.Context, args []string, stdout, stderr io.Writer) error {
	return hashPassword(args, os.Stdin, stdout, stderr)
}

func hashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hash-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	if fs.NArg() != 0 {
		return usageError("the password is read on standard input, not given as an argument (it would stay in the shell's history)")
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if err := config.CheckPasswordStrength(password); err != nil {
		return err
	}
	h, err := config.HashPassword(password)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, h)
	return err
}
