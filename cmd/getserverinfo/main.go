// Command getserverinfo prints the seed's server report: hmd's view (HA
// role, health monitor IP, version, UDI, console sessions, trap
// destinations) from its local API, the services and start time from the
// init agent, and memory from /proc/meminfo.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/events"
	"github.com/hafw/hafw/hmd/webui"
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
	instanceDir := fs.String("instance-dir", config.Layout{Root: config.DefaultRoot}.InstanceDir(), "instance databases `directory` (DB disk size)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := serverinfo.Report{Now: time.Now(), Location: time.Local,
		Settings: serverinfo.Settings{HTTPSPort: api.Port, LogLevel: "INFO", EventsKept: events.DefaultMax, SessionTimeout: webui.SessionIdle}}
	hs, err := api.NewUnixClient(*socket).Status(ctx)
	if err != nil || !hs.Running {
		return serverinfo.Format(stdout, r)
	}
	r.HMDRunning = true
	r.Version, r.HealthMonitorIP, r.Role, r.UDI = hs.Version, hs.HealthMonitorIP, hs.Role, hs.UDI
	r.Serving = serving(hs)
	r.DBDiskMB = int(dirSize(*instanceDir) >> 20)
	if cs, err := (initagent.ControlClient{Socket: *control}).Status(ctx); err == nil {
		r.Services, r.Started = cs.Services, cs.Started
		for _, s := range cs.Services {
			r.Restarts += s.Restarts
		}
		if loc, err := time.LoadLocation(cs.Timezone); err == nil {
			r.Location = loc
		}
	}
	if ss, err := api.NewUnixClient(*socket).Sessions(ctx); err == nil {
		r.Sessions = ss
	}
	if tl, err := api.NewUnixClient(*socket).Traps(ctx); err == nil {
		r.TrapDestinations = serverinfo.TrapDestinations(tl.Destinations)
	}
	if data, err := os.ReadFile(*meminfo); err == nil {
		r.UsedMB, r.TotalMB, _ = serverinfo.ParseMemInfo(string(data))
	}
	return serverinfo.Format(stdout, r)
}

// serving reports whether the appliance holds a virtual IP: for one of its
// peers, or its own as an unpaired primary.
func serving(st api.Status) bool {
	if len(st.Peers) == 0 {
		return st.Role == "primary"
	}
	for _, p := range st.Peers {
		if p.OwnsVIP {
			return true
		}
	}
	return false
}

// dirSize is the bytes of the regular files under dir (0 when it cannot be
// read: a report line is not worth an error).
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
