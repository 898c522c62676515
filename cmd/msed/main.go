// Command msed is the seed's `service msed start|stop|status`: it asks the
// init agent, over its control socket, to start or stop the appliance's
// services (hmd, then the service instance) or to report them.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hafw/hafw/initagent"
	"github.com/hafw/hafw/internal/supervise"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("msed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("control", initagent.DefaultPaths().ControlSocket(), "init agent control `socket`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	args = fs.Args()
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: msed [-control SOCKET] start|stop|status")
		return 2
	}
	ctl := initagent.ControlClient{Socket: *socket}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var st initagent.ControlStatus
	var err error
	switch args[0] {
	case "start":
		fmt.Fprintln(stdout, "Starting MSE Platform")
		fmt.Fprintln(stdout, "Starting Health Monitor, Waiting to check the status.")
		st, err = ctl.Start(ctx)
		if err == nil {
			fmt.Fprintln(stdout, "Health Monitor successfully started")
		}
	case "stop":
		fmt.Fprintln(stdout, "Stopping MSE Platform")
		st, err = ctl.Stop(ctx)
		if err == nil {
			fmt.Fprintln(stdout, "Health Monitor stopped")
		}
	case "status":
		st, err = ctl.Status(ctx)
		if err == nil {
			printStatus(stdout, st)
		}
	default:
		fmt.Fprintf(stderr, "msed: unknown action %q\nusage: msed [-control SOCKET] start|stop|status\n", args[0])
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "msed %s: %v\n", args[0], err)
		return 1
	}
	if args[0] == "status" && !st.ServicesRunning() {
		return 3 // LSB: program is not running
	}
	return 0
}

func printStatus(w io.Writer, st initagent.ControlStatus) {
	if len(st.Services) == 0 {
		fmt.Fprintln(w, "MSE Platform is stopped")
		return
	}
	for _, s := range st.Services {
		line := fmt.Sprintf("%-6s %-9s restarts=%d", s.Name, s.State, s.Restarts)
		if s.PID != 0 {
			line += fmt.Sprintf(" pid=%d", s.PID)
		}
		if s.LastExit != "" {
			line += " last-exit=" + fmt.Sprintf("%q", s.LastExit)
		}
		if s.State == supervise.Running || s.State == supervise.Starting {
			line += " since=" + s.Since.Format(time.RFC3339)
		}
		fmt.Fprintln(w, line)
	}
}
