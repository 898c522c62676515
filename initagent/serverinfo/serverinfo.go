// Package serverinfo renders the seed's getserverinfo report from what the
// init agent and hmd say. It is pure: the command gathers the inputs.
package serverinfo

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/internal/supervise"
	"github.com/hafw/hafw/notify"
)

// ProductName is the report's "Product name".
const ProductName = "hafw Mobility Services appliance"

// Report is everything the report shows.
type Report struct {
	// HMDRunning is false when hmd's local API did not answer; the seed
	// then prints only "Health Monitor is not running".
	HMDRunning      bool
	Version         string
	HealthMonitorIP string
	Role            string // primary, secondary, none
	// Serving is whether this appliance holds a virtual IP (serves a
	// primary's clients); a node that does not is "in DORMANT mode".
	Serving bool
	// UDI is PID:VID:SN.
	UDI string
	// Services is nil when the init agent could not be asked.
	Services []supervise.Status
	Started  time.Time
	Now      time.Time
	Location *time.Location
	// Restarts is the number of service restarts since boot.
	Restarts int
	// Memory in MiB: used, and the machine's total.
	UsedMB, TotalMB int
	// Settings are the seed's configuration rows (HTTPS port, log level,
	// session timeout, …), as hmd runs them.
	Settings Settings
	// DBDiskMB is the instance databases' size on the data partition.
	DBDiskMB int
	// Sessions are the management console's logged-in sessions; nil when
	// hmd could not list them, empty when there are none.
	Sessions []api.Session
	// TrapDestinations are hmd's SNMP trap destinations, in order.
	TrapDestinations []TrapDestination
}

// Settings are the Server Config rows the seed prints after the hardware
// identity. hafw has no legacy port, no per-module log switches and no
// database backup schedule (the instance is replicated to the peer
// instead), and keeps events by count, not by days: those rows say so
// rather than print a number that means nothing here.
type Settings struct {
	HTTPSPort      int
	LogLevel       string
	EventsKept     int
	SessionTimeout time.Duration
}

// TrapDestination is one "Trap Destination - n" of the report.
type TrapDestination struct {
	// IP is the receiver's address (without the port, as the seed shows).
	IP      string
	Updated time.Time
}

// roleNumber is the seed's "High Availability Role: 1" (primary) / 2.
func roleNumber(r string) string {
	switch r {
	case "primary":
		return "1"
	case "secondary":
		return "2"
	}
	return "none"
}

const seedTime = "Mon Jan 02 15:04:05 MST 2006"

func rule(b *strings.Builder, title string) {
	line := strings.Repeat("-", len(title)+2)
	fmt.Fprintf(b, "%s\n%s\n%s\n", line, title, line)
}

// Format writes the report.
func Format(w io.Writer, r Report) error {
	var b strings.Builder
	if !r.HMDRunning {
		b.WriteString("Health Monitor is not running\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("Health Monitor is running\nRetrieving MSE Services status.\n")
	if !r.Serving {
		b.WriteString("MSE services are up and in DORMANT mode, getting the status\n")
	} else {
		b.WriteString("MSE services are up, getting the status\n")
	}
	rule(&b, "Server Config")
	pid, vid, sn := splitUDI(r.UDI)
	fmt.Fprintf(&b, "Product name: %s\nVersion: %s\nHealth Monitor Ip Address: %s\nHigh Availability Role: %s\n",
		ProductName, r.Version, orNA(r.HealthMonitorIP), roleNumber(r.Role))
	fmt.Fprintf(&b, "Hw Version: %s\nHw Product Identifier: %s\nHw Serial Number: %s\n", vid, pid, sn)
	st := r.Settings
	fmt.Fprintf(&b, "HTTPS: %d\nLegacy Port: none\nLog Modules: all\nLog Level: %s\n", st.HTTPSPort, st.LogLevel)
	fmt.Fprintf(&b, "Days to keep events: not limited by days (the last %d events are kept)\n", st.EventsKept)
	fmt.Fprintf(&b, "Session timeout in mins: %d\nDB backup in days: none (the instance is replicated to the peer)\n", int(st.SessionTimeout.Minutes()))
	rule(&b, "Services")
	if r.Services == nil {
		b.WriteString("Service status unavailable: the init agent is not running\n")
	}
	for _, s := range r.Services {
		admin, op := "Enabled", "Down"
		switch s.State {
		case supervise.Stopped, supervise.Failed, supervise.NotExists:
			admin = "Disabled"
		case supervise.Running:
			op = "Up"
		}
		fmt.Fprintf(&b, "Service Name: %s\nService Version: %s\nAdmin Status: %s\nOperation Status: %s\n\n", serviceLabel(s.Name), r.Version, admin, op)
	}
	rule(&b, "Server Monitor")
	loc := r.Location
	if loc == nil {
		loc = time.UTC
	}
	_, offset := r.Now.In(loc).Zone()
	fmt.Fprintf(&b, "Server start time: %s\nServer current time: %s\nServer timezone: %s\nServer timezone offset (mins): %d\n",
		r.Started.In(loc).Format(seedTime), r.Now.In(loc).Format(seedTime), loc, offset/60)
	fmt.Fprintf(&b, "Restarts: %d\nUsed Memory (MB): %d\nAllocated Memory (MB): %d\nMax Memory (MB): %d\nDB disk size (MB): %d\n", r.Restarts, r.UsedMB, r.TotalMB, r.TotalMB, r.DBDiskMB)
	rule(&b, "Active Sessions")
	switch {
	case r.Sessions == nil:
		b.WriteString("Session list unavailable: hmd did not list its console sessions\n")
	case len(r.Sessions) == 0:
		b.WriteString("No active sessions\n")
	}
	for _, s := range r.Sessions {
		fmt.Fprintf(&b, "Session ID: %d\nSession User ID: %d\nSession IP Address: %s\nSession start time: %s\nSession last access time: %s\n\n",
			s.ID, s.UserID, s.IP, s.Started.In(loc).Format(seedTime), s.LastAccess.In(loc).Format(seedTime))
	}
	rule(&b, "Default Trap Destinations")
	if len(r.TrapDestinations) == 0 {
		b.WriteString("No trap destinations configured\n")
	}
	for i, d := range r.TrapDestinations {
		rule(&b, fmt.Sprintf("Trap Destination - %d", i+1))
		fmt.Fprintf(&b, "IP Address: %s\nLast Updated: %s\n", d.IP, d.Updated.In(loc).Format(seedTime))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func serviceLabel(name string) string {
	if name == "hmd" {
		return "Health Monitor"
	}
	return name
}

func orNA(s string) string {
	if s == "" {
		return "Not configured"
	}
	return s
}

// splitUDI splits PID:VID:SN; a malformed UDI is shown whole as the serial.
func splitUDI(udi string) (pid, vid, sn string) {
	parts := strings.SplitN(udi, ":", 3)
	if len(parts) != 3 {
		return "unknown", "unknown", orNA(udi)
	}
	return parts[0], parts[1], parts[2]
}

// ParseMemInfo reads MemTotal and MemAvailable (kB) from /proc/meminfo and
// returns used and total MiB.
func ParseMemInfo(text string) (usedMB, totalMB int, err error) {
	var total, avail int
	for _, line := range strings.Split(text, "\n") {
		var key string
		var kb int
		if _, err := fmt.Sscanf(line, "%s %d kB", &key, &kb); err != nil {
			continue
		}
		switch key {
		case "MemTotal:":
			total = kb
		case "MemAvailable:":
			avail = kb
		}
	}
	if total == 0 {
		return 0, 0, fmt.Errorf("meminfo has no MemTotal")
	}
	return (total - avail) / 1024, total / 1024, nil
}

// TrapDestinations takes the report's rows from hmd's destinations.
func TrapDestinations(views []notify.View) []TrapDestination {
	out := make([]TrapDestination, 0, len(views))
	for _, v := range views {
		d := notify.Destination{Address: v.Address}
		ip := v.Address
		if ap, err := d.AddrPort(); err == nil {
			ip = ap.Addr().String()
		}
		out = append(out, TrapDestination{IP: ip, Updated: v.Updated})
	}
	return out
}
