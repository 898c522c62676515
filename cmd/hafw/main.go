// Command hafw is the vendor's and the field engineer's tool: hardware
// profiles and pairing checks, licenses, the platform UDI, and image builds.
// Each subcommand lives in its own file of this package and only parses
// flags, calls the domain package and formats the answer.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one `hafw` subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is the table of subcommands; add one line per subcommand.
var commands = map[string]command{
	"profiles": {"list the hardware profiles", runProfiles},
	"pairing":  {"check whether a secondary may back up given primaries (1:1, N:1)", runPairing},
	"udi":      {"print this machine's UDI and detected profile", runUDI},
	"license":  {"vendor keys, issue, verify and summarize signed licenses", runLicense},
	"build":    {"build firmware images (raw disk or OVA) for a profile", runBuild},
	"flash":    {"write a raw firmware image onto a disk, verified (--keep-data keeps hafw-data)", runFlash},
	"reboot":   {"orderly reboot of this appliance; --recovery boots the recovery entry once", runReboot},
}

// exitError carries a specific exit status out of a subcommand: 1 for a
// negative answer (for example an unsupported pairing), 2 for a usage error.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// usageError reports a command-line mistake (exit status 2).
func usageError(format string, a ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, a...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "hafw: unknown command %q\n", args[0])
		printUsage(stderr)
		return 2
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(stderr, "hafw %s: %s\n", args[0], ee.msg)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "hafw %s: %v\n", args[0], err)
	return 1
}

func printUsage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: hafw COMMAND [ARGS]\n\ncommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-10s %s\n", n, commands[n].summary)
	}
	b.WriteString("\nRun 'hafw COMMAND -h' for a command's flags.\n")
	io.WriteString(w, b.String())
}
