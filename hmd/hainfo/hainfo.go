// Package hainfo formats what gethainfo prints, in the seed's layout
// (Cisco MSE "gethainfo"): the base high-availability configuration of this
// server, then one "Peer configuration#: N" block per paired peer. Operators
// compare this text with the guide line by line, so the wording, the
// capitalisation and even the seed's missing colon after the first "Health
// Monitor IP Address" of a peer block are kept.
package hainfo

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hafw/hafw/appliance"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/internal/humantime"
)

const rule = "--------------------------------------------------------------------------------"

// Format writes st in gethainfo's layout. When st.Running is false the
// information is the last saved configuration and each peer block ends with
// its last shutdown state instead of live heartbeat status.
func Format(w io.Writer, st api.Status) error {
	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	if st.Running {
		line("Health Monitor is running. Retrieving HA related information")
	} else {
		line("Health Monitor is not running. Following information is from the last saved configuration")
	}
	line(rule)
	line("Base high availability configuration for this server")
	line(rule)
	line("Server role: %s", title(st.Role))
	if st.HARole != "" {
		line("%s", haRole(st))
	}
	line("Health Monitor IP Address: %s", orNone(st.HealthMonitorIP))
	switch {
	case st.Role == "secondary":
		line("Virtual IP Address: Not Applicable for a secondary")
	default:
		line("Virtual IP Address: %s", orNone(st.VIP))
	}
	line("Version: %s", st.Version)
	line("UDI: %s", st.UDI)
	line("Number of paired peers: %d", len(st.Peers))
	for i, p := range st.Peers {
		line(rule)
		line("Peer configuration#: %d", i+1)
		line(rule)
		line("Health Monitor IP Address %s", p.HealthMonitorIP)
		line("Virtual IP Address: %s", p.VIP)
		line("Version: %s", p.Version)
		line("UDI: %s", p.UDI)
		line("Failover type: %s", title(p.FailoverType))
		line("Failback type: %s", title(p.FailbackType))
		line("Failover wait time (seconds): %s", strconv.FormatFloat(float64(p.FailoverWaitMS)/1000, 'f', -1, 64))
		line("Instance database name: %s", p.InstanceDBName)
		line("Instance database port: %d", p.InstanceDBPort)
		line("Dataguard configuration name: %s", p.DataguardName)
		line("Primary database alias: %s", p.PrimaryDBAlias)
		line("Direct connect used: %s", yesNo(p.DirectConnect))
		if st.Running {
			line("Heartbeat status: %s", p.Heartbeat)
			line("Current state: %s", p.State)
		} else {
			line("Last shutdown state: %s", orNone(p.LastShutdownState))
		}
		for _, w := range p.Warnings {
			line("Warning: %s", w)
		}
	}
	// The applications come after the seed's blocks, so that its layout
	// stays line for line what the guide shows.
	if st.Running && len(st.Applications) > 0 {
		line(rule)
		line("Applications monitored: %d", len(st.Applications))
		line(rule)
		for _, a := range st.Applications {
			state := a.State
			if a.PID != 0 {
				state += fmt.Sprintf(" (pid %d)", a.PID)
			}
			line("Application: %s", a.Name)
			line("Application state: %s, restarts %d, last exit: %s", state, a.Restarts, orNone(a.LastExit))
			if a.Check != "" {
				line("Health check: %s", a.Check)
				line("Health: %s, last check: %s", orNone(a.Health), orNone(a.LastCheck))
			}
			line("Failures within the window: %d of %d, last failure: %s", a.Failures, a.MaxFailures, orNone(a.LastFailure))
		}
	}
	if st.Running && st.Firmware != nil {
		line(rule)
		line("Firmware boot slots")
		line(rule)
		for _, sl := range st.Firmware.Slots {
			what := "none"
			if sl.Version != "" {
				what = "version " + sl.Version
				switch n := sl.Note(); {
				case n != "":
					what += " (" + n + ")"
				case sl.State != "":
					what += " (" + sl.State + ")"
				}
			}
			line("Slot %s: %s", sl.Name, what)
		}
		if st.Firmware.RebootAt != "" {
			line("Reboot into the new firmware scheduled at: %s", humantime.RFC3339(st.Firmware.RebootAt))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// title turns "primary" into "Primary", as the seed prints roles and modes.
func title(s string) string {
	if s == "" {
		return "None"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func orNone(s string) string {
	if s == "" {
		return "None"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// haRole is the role actually taken and why, as the init agent's console
// says it: "HA role: none (virtual appliance not activated)".
func haRole(st api.Status) string {
	var r appliance.Reason
	why := st.RoleReason
	if r.UnmarshalText([]byte(st.RoleReason)) == nil {
		why = r.Text()
	}
	return fmt.Sprintf("HA role: %s (%s)", st.HARole, why)
}
