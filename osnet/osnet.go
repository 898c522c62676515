// Package osnet is the one place in hafw that touches the network stack:
// links, addresses and routes through netlink, DHCP leases, ARP (gratuitous
// announcements and probes) and the clock through NTP.
//
// The rest of the firmware sees it through small interfaces (Interfaces for
// the init agent, VIPAddresses, Announcer and Prober for hmd's VIP executor,
// TimeSync for the boot sequence), so that their logic can be tested with
// fakes and only this package needs root and real interfaces in its tests.
//
// Namespaces: every socket this package opens (netlink, packet, UDP) is
// bound to the network namespace of the thread that opens it. A Host, an
// ARP conn and a DHCP client must therefore be created, and Configure
// called, on a thread inside the namespace they are meant to manage. On the
// appliance that is simply the host namespace; tests create them inside
// netnstest.NS.Do. After creation they may be used from any goroutine.
package osnet

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/hafw/hafw/config"
)

// Interfaces is what the init agent needs: apply one port's configuration
// and report how it stands (for the hafw-ready line and getserverinfo).
type Interfaces interface {
	Configure(ctx context.Context, name string, c config.Interface) (Status, error)
	Status(name string) (Status, error)
}

// VIPAddresses is what hmd's VIP executor needs to hold or drop the virtual
// IP on the health-monitor interface, and to reconcile at start-up.
type VIPAddresses interface {
	AddSecondary(name string, p netip.Prefix, label string) error
	RemoveSecondary(name string, p netip.Prefix) error
	Addrs(name string) ([]Addr, error)
}

// LinkWatcher exposes carrier state, for the direct-connect cable.
type LinkWatcher interface {
	Link(name string) (LinkState, error)
	WaitCarrier(ctx context.Context, name string) error
}

// Announcer sends gratuitous ARP for an address this node holds.
type Announcer interface {
	Announce(ip netip.Addr) error
	Burst(ctx context.Context, ip netip.Addr, count int, gap time.Duration) error
	Refresh(ctx context.Context, ip netip.Addr, every time.Duration) error
}

// Prober asks who holds an IPv4 address on the link.
type Prober interface {
	Probe(ctx context.Context, target, sender netip.Addr, timeout time.Duration) ([]net.HardwareAddr, error)
}

// Compile-time checks that the Linux implementations satisfy the interfaces.
var (
	_ Interfaces   = (*Host)(nil)
	_ VIPAddresses = (*Host)(nil)
	_ LinkWatcher  = (*Host)(nil)
	_ Announcer    = (*ARP)(nil)
	_ Prober       = (*ARP)(nil)
)
