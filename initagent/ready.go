package initagent

import (
	"fmt"

	"github.com/hafw/hafw/config"
)

// Ready is the content of the console ready line that operators' scripts
// and the QEMU boot tests key on.
type Ready struct {
	Host    string
	Profile string
	Role    config.Role
	// Eth0 and Eth1 are PortReport values.
	Eth0, Eth1 string
	Activated  bool
}

// String renders the line exactly as the contract fixes it:
// hafw-ready: host=H profile=P role=R eth0=A eth1=A license=L
func (r Ready) String() string {
	lic := "not-activated"
	if r.Activated {
		lic = "activated"
	}
	return fmt.Sprintf("hafw-ready: host=%s profile=%s role=%s eth0=%s eth1=%s license=%s",
		r.Host, r.Profile, r.Role, r.Eth0, r.Eth1, lic)
}

// PortReport renders one port for the ready line: its address/prefix,
// "dhcp-pending" while DHCP has no lease, and otherwise disabled (which the
// contract spells "down" for eth0 and "none" for eth1).
func PortReport(name string, c config.Interface, st PortStatus, err error) string {
	switch {
	case err == nil && st.Address.IsValid():
		return st.Address.String()
	case c.Enabled && c.DHCP && (err == nil || st.DHCPPending):
		return "dhcp-pending"
	case name == "eth1":
		return "none"
	default:
		return "down"
	}
}
