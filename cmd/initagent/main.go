// Command initagent is the appliance's /init (PID 1) and, on an ordinary
// Linux host, a systemd service. All logic is in package initagent.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/hafw/hafw/initagent"
)

func main() {
	a := &initagent.Agent{
		PID1:    os.Getpid() == 1,
		Paths:   initagent.DefaultPaths(),
		Sys:     initagent.LinuxSystem{},
		Console: os.Stdout,
		Log:     slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	if err := a.Run(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "initagent: %v\n", err)
		os.Exit(1)
	}
}
