package osnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Lease is what a DHCP server granted, reduced to what the appliance
// applies, with the RFC 2131 timers already made consistent.
type Lease struct {
	Address netip.Prefix
	// Router is the first router the server named that lies inside the
	// leased subnet, or zero (a gateway we cannot reach on-link is useless).
	Router     netip.Addr
	DNS        []netip.Addr
	NTP        []netip.Addr
	DomainName string
	Server     netip.Addr
	// Obtained is when the ACK arrived; the timers count from here.
	Obtained time.Time
	// Duration is the lease time; Infinite leases never need renewal.
	Duration time.Duration
	Infinite bool
	// T1 (renew with our server) and T2 (rebind with any server), as
	// offsets from Obtained.
	T1, T2 time.Duration
}

// infiniteLease is the lease-time option value meaning "forever" (RFC 2132 §9.2).
const infiniteLease = time.Duration(0xffffffff) * time.Second

// Lease-time defaults and limits. A missing lease time gets a short lease
// so that the client comes back soon rather than holding an address forever.
const (
	defaultLeaseTime = time.Hour
	minLeaseTime     = 10 * time.Second
)

// ErrBadLease is wrapped by LeaseFromACK for unusable server answers.
var ErrBadLease = errors.New("unusable DHCP lease")

// LeaseFromACK checks a server's ACK and turns it into a Lease obtained at
// now. It is the parser of untrusted network input, so it rejects what we
// could not apply safely: no or non-unicast address, missing or
// non-contiguous mask, a /31 or /32 that leaves no room for a gateway.
func LeaseFromACK(ack *dhcpv4.DHCPv4, now time.Time) (Lease, error) {
	if ack == nil {
		return Lease{}, fmt.Errorf("%w: no ACK", ErrBadLease)
	}
	if t := ack.MessageType(); t != dhcpv4.MessageTypeAck {
		return Lease{}, fmt.Errorf("%w: message type %s, want ACK", ErrBadLease, t)
	}
	ip, ok := netip.AddrFromSlice(ack.YourIPAddr)
	ip = ip.Unmap()
	if !ok || !ip.Is4() || !ip.IsGlobalUnicast() {
		return Lease{}, fmt.Errorf("%w: offered address %v is not a unicast IPv4 address", ErrBadLease, ack.YourIPAddr)
	}
	mask := ack.SubnetMask()
	if mask == nil {
		return Lease{}, fmt.Errorf("%w: no subnet mask", ErrBadLease)
	}
	ones, bits := mask.Size()
	if bits != 32 {
		return Lease{}, fmt.Errorf("%w: subnet mask %v is not contiguous", ErrBadLease, net.IP(mask))
	}
	if ones < 1 || ones > 30 {
		return Lease{}, fmt.Errorf("%w: subnet mask /%d is not usable for a host", ErrBadLease, ones)
	}
	l := Lease{Address: netip.PrefixFrom(ip, ones), Obtained: now, DomainName: ack.DomainName()}
	subnet := l.Address.Masked()
	if ip == subnet.Addr() || ip == broadcast(subnet) {
		return Lease{}, fmt.Errorf("%w: offered address %s is the network or broadcast address of %s", ErrBadLease, ip, subnet)
	}
	for _, r := range ack.Router() {
		if a, ok := netip.AddrFromSlice(r); ok && subnet.Contains(a.Unmap()) && a.Unmap() != ip {
			l.Router = a.Unmap()
			break
		}
	}
	l.DNS = addrs(ack.DNS())
	l.NTP = addrs(ack.NTPServers())
	if s, ok := netip.AddrFromSlice(ack.ServerIdentifier()); ok {
		l.Server = s.Unmap()
	}
	l.Duration = ack.IPAddressLeaseTime(defaultLeaseTime)
	if l.Duration >= infiniteLease {
		l.Infinite = true
		return l, nil
	}
	l.Duration = max(l.Duration, minLeaseTime)
	l.T1 = ack.IPAddressRenewalTime(0)
	l.T2 = ack.IPAddressRebindingTime(0)
	// RFC 2131 §4.4.5: T1 defaults to half the lease, T2 to 7/8; a server
	// that sends inconsistent values gets the defaults.
	if l.T2 <= 0 || l.T2 >= l.Duration {
		l.T2 = l.Duration * 7 / 8
	}
	if l.T1 <= 0 || l.T1 >= l.T2 {
		l.T1 = l.Duration / 2
		if l.T1 >= l.T2 { // a short T2 from the server: keep the 1/2 : 7/8 ratio
			l.T1 = l.T2 * 4 / 7
		}
	}
	return l, nil
}

func addrs(ips []net.IP) []netip.Addr {
	var res []netip.Addr
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip); ok && a.Unmap().Is4() && !a.Unmap().IsUnspecified() {
			res = append(res, a.Unmap())
		}
	}
	return res
}

func broadcast(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	b[0] |= byte(host >> 24)
	b[1] |= byte(host >> 16)
	b[2] |= byte(host >> 8)
	b[3] |= byte(host)
	return netip.AddrFrom4(b)
}

// Phase is where a lease stands in its life at a given time.
type Phase int

// Lease phases (RFC 2131 §4.4.5).
const (
	// Bound: nothing to do before T1.
	Bound Phase = iota
	// Renewing: between T1 and T2, ask the server that granted the lease.
	Renewing
	// Rebinding: between T2 and expiry, ask any server.
	Rebinding
	// Expired: the address must go; start over with DISCOVER.
	Expired
)

func (p Phase) String() string {
	return [...]string{"bound", "renewing", "rebinding", "expired"}[p]
}

// Expiry is when the lease runs out (zero for an infinite lease).
func (l Lease) Expiry() time.Time {
	if l.Infinite {
		return time.Time{}
	}
	return l.Obtained.Add(l.Duration)
}

// PhaseAt says which phase the lease is in at now.
func (l Lease) PhaseAt(now time.Time) Phase {
	if l.Infinite {
		return Bound
	}
	d := now.Sub(l.Obtained)
	switch {
	case d >= l.Duration:
		return Expired
	case d >= l.T2:
		return Rebinding
	case d >= l.T1:
		return Renewing
	}
	return Bound
}

// minRetry is the shortest pause between renewal attempts. RFC 2131 says
// 60 s, which we use when there is room; short test leases get less.
const (
	rfcRetry = 60 * time.Second
	minRetry = time.Second
)

// NextAttempt is when the client should next talk to a server, given that
// the last attempt (renew or rebind) happened at lastTry (zero: never); the
// first attempt of each phase is immediate. Between attempts it waits half the time left to the next
// boundary (T2 or expiry), at least a minute when the lease allows it,
// following RFC 2131 §4.4.5. For an infinite lease it returns the zero Time.
func (l Lease) NextAttempt(now, lastTry time.Time) time.Time {
	if l.Infinite {
		return time.Time{}
	}
	t1, t2, exp := l.Obtained.Add(l.T1), l.Obtained.Add(l.T2), l.Expiry()
	switch l.PhaseAt(now) {
	case Bound:
		return t1
	case Expired:
		return now
	}
	start, boundary := t1, t2
	if l.PhaseAt(now) == Rebinding {
		start, boundary = t2, exp
	}
	if lastTry.Before(start) {
		return now // first attempt of this phase
	}
	wait := boundary.Sub(now) / 2
	floor := min(rfcRetry, l.Duration/16)
	wait = max(wait, floor, minRetry)
	next := now.Add(wait)
	if next.After(boundary) {
		next = boundary
	}
	return next
}
