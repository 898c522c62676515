package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/hafw/hafw/hwprofiles"
	"github.com/hafw/hafw/internal/cli"
)

// stringList is a flag that may be given several times (--primary A
// --primary B); other subcommands of this package use it too.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// runPairing answers whether a secondary may back up one primary (1:1) or
// two (N:1): exit 0 and "supported", exit 1 and the reason, exit 2 for a
// usage error such as an unknown model.
func runPairing(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return usageError("usage: hafw pairing check --secondary MODEL --primary MODEL [--primary MODEL]")
	}
	fs := flag.NewFlagSet("pairing check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secondary := fs.String("secondary", "", "secondary model (3310, mse-3355, VA-Standard, …)")
	var primaries stringList
	fs.Var(&primaries, "primary", "primary model; give it twice for N:1")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	if fs.NArg() != 0 {
		return usageError("unexpected arguments %q", fs.Args())
	}
	if *secondary == "" || len(primaries) == 0 {
		return usageError("need --secondary and at least one --primary")
	}
	sec, err := hwprofiles.Lookup(*secondary)
	if err != nil {
		return usageError("--secondary: %v", err)
	}
	prims := make([]hwprofiles.Profile, len(primaries))
	for i, name := range primaries {
		if prims[i], err = hwprofiles.Lookup(name); err != nil {
			return usageError("--primary: %v", err)
		}
	}
	if err := hwprofiles.CheckPairing(sec, prims...); err != nil {
		fmt.Fprintf(stdout, "not supported: %v\n", err)
		return &cli.ExitError{Code: 1}
	}
	fmt.Fprintln(stdout, "supported")
	return nil
}
