package osnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/hafw/hafw/config"
)

// Host is the Linux implementation of Interfaces, VIPAddresses and
// LinkWatcher. It owns one netlink handle, bound to the network namespace
// of the thread that called NewHost, and the DHCP clients it starts.
type Host struct {
	nl  *netlink.Handle
	log *slog.Logger
	// dhcpWait bounds how long Configure waits for a first DHCP lease
	// before it returns StateDHCPPending and keeps trying in the background.
	dhcpWait time.Duration
	// onLease is called (from the DHCP goroutine) with each applied lease.
	onLease func(name string, l Lease)
	// resolvConf, when set, is rewritten with each lease's DNS servers.
	resolvConf string

	mu     sync.Mutex
	status map[string]Status
	dhcp   map[string]*dhcpRun
	wg     sync.WaitGroup
}

// HostOption adjusts a Host.
type HostOption func(*Host)

// WithDHCPWait sets how long Configure waits for the first DHCP lease
// (default 10 s). The client keeps trying in the background afterwards.
func WithDHCPWait(d time.Duration) HostOption { return func(h *Host) { h.dhcpWait = d } }

// WithLeaseHook registers fn to be called with every lease that was applied
// (the first one and each renewal), for example to write resolv.conf or to
// report DNS and NTP servers the server handed out.
func WithLeaseHook(fn func(name string, l Lease)) HostOption {
	return func(h *Host) { h.onLease = fn }
}

// WithResolvConf makes every applied lease that names DNS servers rewrite
// path (normally /etc/resolv.conf) with them and the lease's domain.
func WithResolvConf(path string) HostOption { return func(h *Host) { h.resolvConf = path } }

// NewHost opens a netlink handle in the calling thread's network namespace.
func NewHost(log *slog.Logger, opts ...HostOption) (*Host, error) {
	nl, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink: %w", err)
	}
	h := &Host{
		nl:       nl,
		log:      log,
		dhcpWait: 10 * time.Second,
		status:   make(map[string]Status),
		dhcp:     make(map[string]*dhcpRun),
	}
	for _, o := range opts {
		o(h)
	}
	return h, nil
}

// Close stops every DHCP client, waits for them, and closes the netlink
// handle. Addresses stay in place (a leased one until its lifetime ends).
func (h *Host) Close() error {
	h.mu.Lock()
	for _, r := range h.dhcp {
		r.cancel()
	}
	h.mu.Unlock()
	h.wg.Wait()
	h.nl.Close()
	return nil
}

// ErrNoLink is returned when the named interface does not exist.
var ErrNoLink = errors.New("no such network interface")

func (h *Host) link(name string) (netlink.Link, error) {
	l, err := h.nl.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("%s: %w", name, ErrNoLink)
		}
		return nil, fmt.Errorf("look up interface %s: %w", name, err)
	}
	return l, nil
}

// LinkState is an interface's administrative and physical state.
type LinkState struct {
	Name string
	MAC  net.HardwareAddr
	// Up is the administrative state (ip link set up).
	Up bool
	// Carrier is true when the cable (or veth peer) is there: IFF_LOWER_UP.
	Carrier bool
	MTU     int
}

// Link reports name's state; hmd polls it for the direct-connect cable.
func (h *Host) Link(name string) (LinkState, error) {
	l, err := h.link(name)
	if err != nil {
		return LinkState{}, err
	}
	a := l.Attrs()
	return LinkState{
		Name:    a.Name,
		MAC:     a.HardwareAddr,
		Up:      a.Flags&net.FlagUp != 0,
		Carrier: a.RawFlags&unix.IFF_LOWER_UP != 0,
		MTU:     a.MTU,
	}, nil
}

// SetLink brings name up or down.
func (h *Host) SetLink(name string, up bool) error {
	l, err := h.link(name)
	if err != nil {
		return err
	}
	if up {
		err = h.nl.LinkSetUp(l)
	} else {
		err = h.nl.LinkSetDown(l)
	}
	if err != nil {
		return fmt.Errorf("set %s up=%v: %w", name, up, err)
	}
	return nil
}

// carrierPoll is how often WaitCarrier looks at the link. Polling keeps the
// code free of a netlink subscription per waiter; 50 ms is far below the
// time a switch port needs to come up.
const carrierPoll = 50 * time.Millisecond

// WaitCarrier returns when name has carrier, or ctx's error.
func (h *Host) WaitCarrier(ctx context.Context, name string) error {
	t := time.NewTicker(carrierPoll)
	defer t.Stop()
	for {
		st, err := h.Link(name)
		if err != nil {
			return err
		}
		if st.Carrier {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for carrier on %s: %w", name, ctx.Err())
		case <-t.C:
		}
	}
}

// Addr is one IPv4 address on an interface.
type Addr struct {
	Prefix netip.Prefix
	// Label is the address label (eth0 for the port's own address,
	// eth0:1 style for the VIP).
	Label string
	// Secondary is set by the kernel for further addresses in a subnet.
	Secondary bool
}

// Addrs lists name's IPv4 addresses.
func (h *Host) Addrs(name string) ([]Addr, error) {
	l, err := h.link(name)
	if err != nil {
		return nil, err
	}
	return h.addrs(l)
}

func (h *Host) addrs(l netlink.Link) ([]Addr, error) {
	list, err := h.nl.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", l.Attrs().Name, err)
	}
	res := make([]Addr, 0, len(list))
	for _, a := range list {
		p, ok := prefixFromIPNet(a.IPNet)
		if !ok {
			continue
		}
		res = append(res, Addr{Prefix: p, Label: a.Label, Secondary: a.Flags&unix.IFA_F_SECONDARY != 0})
	}
	return res, nil
}

func prefixFromIPNet(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, bits := n.Mask.Size()
	if bits == 0 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(ip.Unmap(), ones), true
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// ValidateLabel checks an address label for name: the kernel wants it to
// start with the interface name, and it must fit IFNAMSIZ (15 bytes).
func ValidateLabel(name, label string) error {
	if !strings.HasPrefix(label, name+":") || len(label) == len(name)+1 {
		return fmt.Errorf("address label %q must look like %s:<suffix>", label, name)
	}
	if len(label) > unix.IFNAMSIZ-1 {
		return fmt.Errorf("address label %q is longer than %d bytes", label, unix.IFNAMSIZ-1)
	}
	return nil
}

// AddSecondary adds p to name with label (eth0:1 style), as hmd does for
// the VIP. Adding an address that is already there succeeds.
func (h *Host) AddSecondary(name string, p netip.Prefix, label string) error {
	if !p.Addr().Is4() {
		return fmt.Errorf("add %s to %s: only IPv4 is supported", p, name)
	}
	if err := ValidateLabel(name, label); err != nil {
		return err
	}
	l, err := h.link(name)
	if err != nil {
		return err
	}
	if err := h.nl.AddrReplace(l, &netlink.Addr{IPNet: ipNet(p), Label: label}); err != nil {
		return fmt.Errorf("add %s (%s) to %s: %w", p, label, name, err)
	}
	return nil
}

// RemoveSecondary removes p from name. Removing an address that is not
// there succeeds, so that start-up reconciliation can call it blindly.
func (h *Host) RemoveSecondary(name string, p netip.Prefix) error {
	l, err := h.link(name)
	if err != nil {
		return err
	}
	err = h.nl.AddrDel(l, &netlink.Addr{IPNet: ipNet(p)})
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("remove %s from %s: %w", p, name, err)
	}
	return nil
}

// Status returns name's last known state with its current carrier.
func (h *Host) Status(name string) (Status, error) {
	h.mu.Lock()
	st, ok := h.status[name]
	h.mu.Unlock()
	if !ok {
		st = Status{Name: name, State: StateDown}
	}
	ls, err := h.Link(name)
	if err != nil {
		return st, err
	}
	st.Carrier = ls.Carrier
	return st, nil
}

func (h *Host) setStatus(st Status) {
	h.mu.Lock()
	h.status[st.Name] = st
	h.mu.Unlock()
}

// Configure applies one port's configuration: disabled ports go down and
// lose their addresses; static ports get their address and, with a
// gateway, the default route; DHCP ports start a DHCP client that keeps the
// lease renewed until ctx is cancelled or the Host is closed. For DHCP,
// Configure waits (up to WithDHCPWait) for the first lease and otherwise
// returns StateDHCPPending while the client keeps trying.
//
// Reconfiguring a port replaces what the previous call did; addresses with
// a label of the form name:suffix (hmd's VIP) are left alone except when
// the port is disabled.
func (h *Host) Configure(ctx context.Context, name string, c config.Interface) (Status, error) {
	h.stopDHCP(name)
	st := Status{Name: name, State: StateDown, DHCP: c.DHCP}
	l, err := h.link(name)
	if err != nil {
		st.Err = err.Error()
		h.setStatus(st)
		return st, err
	}
	if !c.Enabled {
		st.State = StateDisabled
		err := errors.Join(h.flush(l, true), h.SetLink(name, false))
		h.setStatus(st)
		return st, err
	}
	if err := h.SetLink(name, true); err != nil {
		st.Err = err.Error()
		h.setStatus(st)
		return st, err
	}
	if c.DHCP {
		if err := h.flush(l, false); err != nil {
			return st, err
		}
		return h.startDHCP(ctx, name)
	}
	if !c.Address.IsValid() || !c.Address.Addr().Is4() {
		return st, fmt.Errorf("configure %s: a static IPv4 address is required", name)
	}
	if err := h.applyAddress(l, c.Address, c.Gateway, 0); err != nil {
		st.Err = err.Error()
		h.setStatus(st)
		return st, err
	}
	st.State, st.Address, st.Gateway = StateConfigured, c.Address, c.Gateway
	h.setStatus(st)
	return h.Status(name)
}

// flush removes the port's own IPv4 addresses (label == name); all of
// them, VIP labels included, when everything is set.
func (h *Host) flush(l netlink.Link, everything bool) error {
	addrs, err := h.addrs(l)
	if err != nil {
		return err
	}
	name := l.Attrs().Name
	var errs []error
	for _, a := range addrs {
		if everything || a.Label == name || a.Label == "" {
			if err := h.nl.AddrDel(l, &netlink.Addr{IPNet: ipNet(a.Prefix)}); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				errs = append(errs, fmt.Errorf("remove %s from %s: %w", a.Prefix, name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// applyAddress makes addr the port's only own address and routes the
// default route through gw (or removes this port's default route when gw
// is zero). A non-zero lifetime makes the kernel drop the address itself
// when a lease runs out and nobody renewed it.
func (h *Host) applyAddress(l netlink.Link, addr netip.Prefix, gw netip.Addr, lifetime time.Duration) error {
	name := l.Attrs().Name
	addrs, err := h.addrs(l)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if (a.Label == name || a.Label == "") && a.Prefix != addr {
			if err := h.nl.AddrDel(l, &netlink.Addr{IPNet: ipNet(a.Prefix)}); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				return fmt.Errorf("remove old address %s from %s: %w", a.Prefix, name, err)
			}
		}
	}
	na := &netlink.Addr{IPNet: ipNet(addr), Label: name}
	if lifetime > 0 {
		secs := int(lifetime / time.Second)
		na.ValidLft, na.PreferedLft = secs, secs
	}
	if err := h.nl.AddrReplace(l, na); err != nil {
		return fmt.Errorf("set address %s on %s: %w", addr, name, err)
	}
	if err := h.restoreLabelled(l, addrs); err != nil {
		return err
	}
	if gw.IsValid() {
		r := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: gw.AsSlice(), Dst: ipNet(netip.PrefixFrom(netip.IPv4Unspecified(), 0))}
		if err := h.nl.RouteReplace(r); err != nil {
			return fmt.Errorf("set default route via %s on %s: %w", gw, name, err)
		}
		return nil
	}
	return h.removeDefaultRoutes(l)
}

// restoreLabelled re-adds labelled addresses (the VIP) from before that
// the kernel dropped with the old primary address of their subnet: with
// promote_secondaries off, deleting a primary deletes its secondaries.
func (h *Host) restoreLabelled(l netlink.Link, before []Addr) error {
	name := l.Attrs().Name
	now, err := h.addrs(l)
	if err != nil {
		return err
	}
	for _, a := range before {
		if a.Label == name || a.Label == "" || slices.ContainsFunc(now, func(n Addr) bool { return n.Prefix == a.Prefix }) {
			continue
		}
		if err := h.nl.AddrReplace(l, &netlink.Addr{IPNet: ipNet(a.Prefix), Label: a.Label}); err != nil {
			return fmt.Errorf("restore %s (%s) on %s: %w", a.Prefix, a.Label, name, err)
		}
		h.log.Info("restored labelled address after the port's address changed", "interface", name, "address", a.Prefix, "label", a.Label)
	}
	return nil
}

func (h *Host) removeDefaultRoutes(l netlink.Link) error {
	routes, err := h.nl.RouteList(l, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list routes of %s: %w", l.Attrs().Name, err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() && isZeroMask(r.Dst.Mask) {
			if err := h.nl.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("remove default route of %s: %w", l.Attrs().Name, err)
			}
		}
	}
	return nil
}

func isZeroMask(m net.IPMask) bool {
	ones, _ := m.Size()
	return ones == 0
}

// DefaultGateway returns the gateway of the default route through name, or
// the zero Addr; hmd probes it for the third vote before a failover.
func (h *Host) DefaultGateway(name string) (netip.Addr, error) {
	l, err := h.link(name)
	if err != nil {
		return netip.Addr{}, err
	}
	routes, err := h.nl.RouteList(l, netlink.FAMILY_V4)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("list routes of %s: %w", name, err)
	}
	for _, r := range routes {
		if (r.Dst == nil || isZeroMask(r.Dst.Mask)) && r.Gw != nil {
			if gw, ok := netip.AddrFromSlice(r.Gw); ok {
				return gw.Unmap(), nil
			}
		}
	}
	return netip.Addr{}, nil
}
