// Command getserverinfo prints the seed's server report: hmd's view (HA
// role, health monitor IP, version, UDI) from its local API, the services
// and start time from the init agent, and memory from /proc/meminfo.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/initagent"
	"github.com/hafw/hafw/initagent/serverinfo"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "getserverinfo: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	paths := initagent.DefaultPaths()
	fs := flag.NewFlagSet("getserverinfo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", paths.HMDSocket(), "hmd's local API `socket`")
	control := fs.String("control", paths.ControlSocket(), "init agent control `socket`")
	meminfo := fs.String("meminfo", "/proc/meminfo", "meminfo `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := serverinfo.Report{Now: time.Now(), Location: time.Local}
	hs, err := api.NewUnixClient(*socket).Status(ctx)
	if err != nil || !hs.Running {
		return serverinfo.Format(stdout, r)
	}
	r.HMDRunning = true
	r.Version, r.HealthMonitorIP, r.Role, r.UDI = hs.Version, hs.HealthMonitorIP, hs.Role, hs.UDI
	if cs, err := (initagent.ControlClient{Socket: *control}).Status(ctx); err == nil {
		r.Services, r.Started = cs.Services, cs.Started
		for _, s := range cs.Services {
			r.Restarts += s.Restarts
		}
		if loc, err := time.LoadLocation(cs.Timezone); err == nil {
			r.Location = loc
		}
	}
	if tl, err := api.NewUnixClient(*socket).Traps(ctx); err == nil {
		r.TrapDestinations = serverinfo.TrapDestinations(tl.Destinations)
	}
	if data, err := os.ReadFile(*meminfo); err == nil {
		r.UsedMB, r.TotalMB, _ = serverinfo.ParseMemInfo(string(data))
	}
	return serverinfo.Format(stdout, r)
}
