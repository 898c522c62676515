package osnet

import (
	"net/netip"
	"time"
)

// State says how far a port got.
type State int

// Port states, in the order a port moves through them.
const (
	// StateDisabled is a port the configuration leaves off.
	StateDisabled State = iota
	// StateDown is an enabled port that could not be brought up, or a
	// DHCP port whose lease expired.
	StateDown
	// StateDHCPPending is a DHCP port that is up but has no lease yet.
	StateDHCPPending
	// StateConfigured is a port with its address in place (static or leased).
	StateConfigured
)

var stateNames = [...]string{"disabled", "down", "dhcp-pending", "configured"}

func (s State) String() string {
	if int(s) < len(stateNames) && s >= 0 {
		return stateNames[s]
	}
	return "unknown"
}

// Status is one port's state as the init agent reports it.
type Status struct {
	Name  string
	State State
	// DHCP is true when the address comes from a lease.
	DHCP bool
	// Address and Gateway are set in StateConfigured (Gateway may be zero).
	Address netip.Prefix
	Gateway netip.Addr
	// Carrier is the link's physical state when the status was taken.
	Carrier bool
	// LeaseExpiry is when the current DHCP lease runs out (zero if none or infinite).
	LeaseExpiry time.Time
	// Err is the last error seen on this port (for example DHCP timeouts), if any.
	Err string
}

// ReadyField is the port's value in the hafw-ready line:
// addr/prefix, dhcp-pending, down, or none for a disabled port.
func (s Status) ReadyField() string {
	switch s.State {
	case StateConfigured:
		return s.Address.String()
	case StateDHCPPending:
		return "dhcp-pending"
	case StateDisabled:
		return "none"
	default:
		return "down"
	}
}
