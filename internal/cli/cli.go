// Package cli is the shared shape of hafw's multi-command tools (hafw,
// hactl, hacores): a table of subcommands, one usage listing, and one
// mapping from a subcommand's error to the process exit status, so that
// every tool answers the same way — 0 done, 1 a negative answer or a
// failure, 2 a usage mistake — and prints errors as "tool sub: reason".
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// ExitError carries a specific exit status out of a subcommand: 1 for a
// negative answer (an unsupported pairing, a refused license), 2 for a
// usage mistake. An empty Msg prints nothing (the subcommand already said
// what it had to).
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// Usagef reports a command-line mistake (exit status 2).
func Usagef(format string, a ...any) error {
	return &ExitError{Code: 2, Msg: fmt.Sprintf(format, a...)}
}

// Failf reports a negative answer or a failure with exit status 1.
func Failf(format string, a ...any) error {
	return &ExitError{Code: 1, Msg: fmt.Sprintf(format, a...)}
}

// Command is one subcommand.
type Command struct {
	Summary string
	Run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// EnvCommand is a subcommand of a tool whose global flags produce an
// environment E (an API client, etcd endpoints) shared by all subcommands.
type EnvCommand[E any] struct {
	Summary string
	Run     func(ctx context.Context, env E, args []string, stdout, stderr io.Writer) error
}

// Bind turns a table of EnvCommands into Commands that all receive env.
func Bind[E any](table map[string]EnvCommand[E], env E) map[string]Command {
	out := make(map[string]Command, len(table))
	for name, c := range table {
		run := c.Run
		out[name] = Command{Summary: c.Summary, Run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return run(ctx, env, args, stdout, stderr)
		}}
	}
	return out
}

// Tool is one multi-command program.
type Tool struct {
	Name string
	// Synopsis is the usage line's text after the tool's name, for
	// example "[--socket PATH] COMMAND [FLAGS]".
	Synopsis string
	Commands map[string]Command
}

// PrintUsage lists the subcommands, sorted.
func (t Tool) PrintUsage(w io.Writer) {
	names := make([]string, 0, len(t.Commands))
	width := 0
	for n := range t.Commands {
		names = append(names, n)
		width = max(width, len(n))
	}
	sort.Strings(names)
	fmt.Fprintf(w, "usage: %s %s\n\ncommands:\n", t.Name, t.Synopsis)
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, t.Commands[n].Summary)
	}
	fmt.Fprintf(w, "\nRun '%s COMMAND -h' for a command's flags.\n", t.Name)
}

// Run dispatches args[0] to its subcommand and returns the exit status.
func (t Tool) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		t.PrintUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := t.Commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown command %q\n", t.Name, args[0])
		t.PrintUsage(stderr)
		return 2
	}
	return t.exitStatus(args[0], cmd.Run(ctx, args[1:], stdout, stderr), stderr)
}

// exitStatus maps a subcommand's error to the exit status, printing it.
func (t Tool) exitStatus(sub string, err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Msg != "" {
			fmt.Fprintf(stderr, "%s %s: %s\n", t.Name, sub, ee.Msg)
		}
		return ee.Code
	}
	fmt.Fprintf(stderr, "%s %s: %v\n", t.Name, sub, err)
	return 1
}

// Main runs a tool as the process: run gets the arguments and standard
// streams and a context that SIGINT or SIGTERM cancels, and its result is
// the exit status.
func Main(run func(ctx context.Context, args []string, stdout, stderr io.Writer) int) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
