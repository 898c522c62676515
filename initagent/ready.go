package initagent

import (
	"fmt"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/osnet"
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

// PortReport renders one port for the ready line. osnet names a disabled
// port "none"; the contract keeps "none" for eth1 and says "down" for an
// eth0 that is not up, since the appliance always wants eth0.
func PortReport(name string, st osnet.Status) string {
	f := st.ReadyField()
	if name == "eth0" && f == "none" {
		return "down"
	}
	return f
}
