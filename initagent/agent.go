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
	"time"

	"github.com/hafw/hafw/appliance"
	"github.com/hafw/hafw/board"
	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/image/bootctl"
	"github.com/hafw/hafw/internal/supervise"
	"github.com/hafw/hafw/osnet"
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
	Bin     string // /bin: hmd, setup, …
	ESP     string // /boot, the boot partition's mount point (PID 1 mounts it)
	Efivars string // /sys/firmware/efi/efivars
	// ResolvConf is written with the static DNS servers (PID 1 only).
	ResolvConf string
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
		ESP:     "/boot",
		Efivars: bootctl.DefaultEfivars,

		ResolvConf: "/etc/resolv.conf",
	}
}

// Layout is the data partition's file layout under Paths.Data.
func (p Paths) Layout() config.Layout { return config.Layout{Root: p.Data} }

// ControlSocket is the init agent's control socket (msed start|stop|status).
func (p Paths) ControlSocket() string { return filepath.Join(p.Run, "initagent.sock") }

// HMDSocket is hmd's local API socket.
func (p Paths) HMDSocket() string { return filepath.Join(p.Run, "hmd.sock") }

// Agent is one run of the init agent. Its fields are the seams: what
// touches the kernel, the network and the clock is passed in by the main.
type Agent struct {
	// PID1 selects the appliance duties (mounts, modules, data partition,
	// hostname, NTP, reboot); false is an ordinary service under systemd.
	PID1  bool
	Paths Paths
	Sys   System
	// Network configures eth0/eth1 (osnet.Host); nil leaves the ports to
	// the host (systemd) and reports what osnet cannot see as down.
	Network osnet.Interfaces
	// Clock is stepped from NTP at boot; nil leaves the clock alone.
	Clock osnet.Clock
	// Board is where DMI and /proc facts are read for profile and UDI.
	Board board.System
	// Console receives the operator-facing lines (ready, recovery, fatal)
	// and the children's output.
	Console io.Writer
	Log     *slog.Logger
	// Backoff is the restart policy for hmd and the service instance.
	Backoff supervise.Backoff
	// HMD reads the running hmd's status (the pairing check at boot, the
	// health of a slot on trial); nil skips the pairing check and never
	// finds a slot on trial healthy.
	HMD HMD
	// HMDReadyTimeout bounds the wait for hmd's READY=1 before the ready
	// line is printed anyway (with a warning), so a broken hmd never keeps
	// the appliance from reporting how it came up.
	HMDReadyTimeout time.Duration
	// TrialTimeout bounds how long a boot into a slot on trial waits for
	// hmd to settle before it gives up, records why and reboots
	// (DefaultTrialTimeout when 0); TrialStable is how long hmd must stay
	// settled before the slot is committed (DefaultTrialStable when 0).
	TrialTimeout, TrialStable time.Duration
	// Notify sends sd_notify states ("READY=1", "WATCHDOG=1", "STOPPING=1")
	// when running under systemd; nil as PID 1.
	Notify func(state string) error
	// WatchdogInterval is how often WATCHDOG=1 is sent (0: never).
	WatchdogInterval time.Duration
	// DataMounted, if set, is called once the data partition is mounted
	// at dir (the main starts logging to it then).
	DataMounted func(dir string)
	// DataUnmounting, if set, is called at shutdown just before the data
	// partition is unmounted: whatever DataMounted opened there must be
	// closed by then, or the unmount fails with EBUSY and the file system
	// is left dirty.
	DataUnmounting func()
}

// bootState is what the boot steps learn, in order, and the ready line
// reports.
type bootState struct {
	cmdline     appliance.Cmdline
	cfg         config.Appliance
	configured  bool   // a stored or first-boot configuration was found
	source      string // where cfg came from
	dataMounted bool
	identity    appliance.Identity
	profile     string // model name, "unknown" when detection failed
	udi         string
	entitlement appliance.Entitlement
	activated   bool
	// decision is appliance.DecideRole's; role and recovery are its Role
	// and Recovery: the role actually taken, the configured one or none.
	decision   appliance.Decision
	recovery   bool
	role       config.Role
	eth0, eth1 string
	slots      slotBoot
}

// consolef prints one operator-facing line on the console (under systemd
// stdout is the journal, so it is logged there too).
func (a *Agent) consolef(format string, args ...any) {
	fmt.Fprintf(a.Console, format+"\n", args...)
}
