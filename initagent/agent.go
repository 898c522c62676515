// Package initagent is the appliance's PID 1: it mounts the pseudo
// filesystems and the data partition, loads the profile's kernel modules,
// finds the configuration (data partition, OVF environment, kernel command
// line, or the setup wizard), brings up the network through osnet,
// supervises hmd and the service instance, prints the ready line, and on
// SIGTERM/SIGPWR/ctrl-alt-del shuts down in order.
//
// The boot is a table of steps (steps.go); everything that touches the
// kernel sits behind System and Network so that the sequence is testable
// off the appliance. The same agent runs as an ordinary systemd service
// when it is not PID 1 and then skips the PID-1-only steps.
package initagent

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/hafw/hafw/config"
)

// Paths are the files and directories the agent uses. On the appliance
// they are the defaults; tests and systemd hosts point them elsewhere.
type Paths struct {
	Cmdline string // /proc/cmdline
	Etc     string // /etc/hafw: profile, version, vendor.pub, modules.list
	Data    string // /data, the data partition's mount point
	Run     string // /run/hafw: sockets
	Sys     string // /sys
	Dev     string // /dev
	Bin     string // /bin: hmd, msed, …
}

// DefaultPaths are the appliance's paths.
func DefaultPaths() Paths {
	return Paths{
		Cmdline: "/proc/cmdline",
		Etc:     "/etc/hafw",
		Data:    config.DefaultRoot,
		Run:     "/run/hafw",
		Sys:     "/sys",
		Dev:     "/dev",
		Bin:     "/bin",
	}
}

// Layout is the data partition's file layout under Paths.Data.
func (p Paths) Layout() config.Layout { return config.Layout{Root: p.Data} }

// ControlSocket is the init agent's control socket (msed start|stop|status).
func (p Paths) ControlSocket() string { return filepath.Join(p.Run, "initagent.sock") }

// HMDSocket is hmd's local API socket.
func (p Paths) HMDSocket() string { return filepath.Join(p.Run, "hmd.sock") }

// Agent is one run of the init agent.
type Agent struct {
	// PID1 selects the appliance duties (mounts, modules, data partition,
	// hostname, reboot); false is an ordinary service under systemd.
	PID1    bool
	Paths   Paths
	Sys     System
	Network Network // nil: the ports are left as they are
	// Console receives the operator-facing lines (ready, recovery, fatal).
	Console io.Writer
	Log     *slog.Logger
}

// bootState is what the boot steps learn, in order, and the ready line
// reports.
type bootState struct {
	cmdline     Cmdline
	cfg         config.Appliance
	configured  bool   // a stored or first-boot configuration was found
	source      string // where cfg came from
	dataMounted bool
	profile     string
	activated   bool
	eth0, eth1  string
}

// consolef prints one line on the console and logs it.
func (a *Agent) consolef(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	fmt.Fprintln(a.Console, line)
	a.Log.Info(line)
}
