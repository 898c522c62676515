package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/internal/cli"
)

func runPasswd(ctx context.Context, c *api.Client, args []string, stdout, stderr io.Writer) error {
	return passwd(ctx, c, args, os.Stdin, stdout, stderr)
}

// passwd changes the administrator password through hmd (POST
// /v1/password), which checks the current one and the password rule and
// refuses with the reason, changing nothing. At a terminal it asks the
// current password and the new one twice without echo; --stdin reads the
// current and the new one as two lines, for scripts.
func passwd(ctx context.Context, c *api.Client, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flags("passwd", stderr)
	fromStdin := fs.Bool("stdin", false, "read the current password and the new one as two lines of standard input (for scripts) instead of asking at the terminal")
	if err := parse(fs, args); err != nil {
		return err
	}
	var req api.PasswordChange
	if *fromStdin {
		r := bufio.NewReader(stdin)
		var err error
		if req.Old, err = readLine(r); err == nil {
			req.New, err = readLine(r)
		}
		if err != nil {
			return cli.Failf("--stdin needs two lines, the current password and then the new one: %v", err)
		}
	} else {
		f, ok := stdin.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return usageError("standard input is not a terminal: give the passwords as two lines with --stdin")
		}
		ask := func(prompt string) (string, error) { return cli.ReadPassword(int(f.Fd()), prompt, stderr) }
		var again string
		var err error
		if req.Old, err = ask("Current administrator password: "); err != nil {
			return err
		}
		if req.New, err = ask("New administrator password: "); err != nil {
			return err
		}
		if again, err = ask("Retype the new administrator password: "); err != nil {
			return err
		}
		if again != req.New {
			return cli.Failf("the new passwords differ; nothing was changed")
		}
	}
	res, err := c.ChangePassword(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.Message)
	return nil
}

// readLine is one line without its line ending; a last line without one
// counts, an empty input does not.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		if errors.Is(err, io.EOF) {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
