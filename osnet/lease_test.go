package osnet

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// ack builds a server ACK for 10.210.0.50 with the given extra modifiers.
func ack(t testing.TB, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	base := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(dhcpv4.MessageTypeAck),
		dhcpv4.WithYourIP(net.IPv4(10, 210, 0, 50)),
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 210, 0, 1))),
	}
	p, err := dhcpv4.New(append(base, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLeaseFromACK(t *testing.T) {
	l, err := LeaseFromACK(ack(t,
		dhcpv4.WithRouter(net.IPv4(192, 0, 2, 1), net.IPv4(10, 210, 0, 1)),
		dhcpv4.WithOption(dhcpv4.OptDNS(net.IPv4(10, 210, 0, 53), net.IPv4zero)),
		dhcpv4.WithOption(dhcpv4.OptDomainName("lab.example")),
		dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(time.Hour)),
		dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(10*time.Minute)),
		dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(40*time.Minute)),
	), t0)
	if err != nil {
		t.Fatal(err)
	}
	if l.Address != netip.MustParsePrefix("10.210.0.50/24") {
		t.Errorf("address %v", l.Address)
	}
	if l.Router != netip.MustParseAddr("10.210.0.1") {
		t.Errorf("router %v: want the first router inside the subnet", l.Router)
	}
	if len(l.DNS) != 1 || l.DNS[0] != netip.MustParseAddr("10.210.0.53") {
		t.Errorf("dns %v: want only the valid server", l.DNS)
	}
	if l.DomainName != "lab.example" || l.Server != netip.MustParseAddr("10.210.0.1") {
		t.Errorf("domain %q server %v", l.DomainName, l.Server)
	}
	if l.Duration != time.Hour || l.T1 != 10*time.Minute || l.T2 != 40*time.Minute {
		t.Errorf("timers %v %v %v", l.Duration, l.T1, l.T2)
	}
	if !l.Expiry().Equal(t0.Add(time.Hour)) {
		t.Errorf("expiry %v", l.Expiry())
	}
}

func TestLeaseTimerDefaults(t *testing.T) {
	for _, tc := range []struct {
		name          string
		mods          []dhcpv4.Modifier
		lease, t1, t2 time.Duration
		infinite      bool
	}{
		{"no timers", []dhcpv4.Modifier{dhcpv4.WithLeaseTime(800)}, 800 * time.Second, 400 * time.Second, 700 * time.Second, false},
		{"T1 after T2", []dhcpv4.Modifier{dhcpv4.WithLeaseTime(800),
			dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(600 * time.Second)),
			dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(500 * time.Second))}, 800 * time.Second, 400 * time.Second, 500 * time.Second, false},
		{"T2 beyond lease", []dhcpv4.Modifier{dhcpv4.WithLeaseTime(800),
			dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(900 * time.Second))}, 800 * time.Second, 400 * time.Second, 700 * time.Second, false},
		{"no lease time", nil, time.Hour, 30 * time.Minute, 52*time.Minute + 30*time.Second, false},
		{"tiny lease", []dhcpv4.Modifier{dhcpv4.WithLeaseTime(1)}, minLeaseTime, minLeaseTime / 2, minLeaseTime * 7 / 8, false},
		{"infinite", []dhcpv4.Modifier{dhcpv4.WithLeaseTime(0xffffffff)}, infiniteLease, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := LeaseFromACK(ack(t, tc.mods...), t0)
			if err != nil {
				t.Fatal(err)
			}
			if l.Duration != tc.lease || l.T1 != tc.t1 || l.T2 != tc.t2 || l.Infinite != tc.infinite {
				t.Errorf("got lease %v T1 %v T2 %v infinite %v; want %v %v %v %v",
					l.Duration, l.T1, l.T2, l.Infinite, tc.lease, tc.t1, tc.t2, tc.infinite)
			}
		})
	}
}

func TestLeaseFromACKRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    *dhcpv4.DHCPv4
	}{
		{"nak", ack(t, dhcpv4.WithMessageType(dhcpv4.MessageTypeNak))},
		{"no address", ack(t, dhcpv4.WithYourIP(net.IPv4zero))},
		{"broadcast address", ack(t, dhcpv4.WithYourIP(net.IPv4bcast))},
		{"multicast address", ack(t, dhcpv4.WithYourIP(net.IPv4(224, 0, 0, 1)))},
		{"no mask", ack(t, dhcpv4.WithoutOption(dhcpv4.OptionSubnetMask))},
		{"holey mask", ack(t, dhcpv4.WithNetmask(net.IPv4Mask(255, 0, 255, 0)))},
		{"/32", ack(t, dhcpv4.WithNetmask(net.CIDRMask(32, 32)))},
		{"network address", ack(t, dhcpv4.WithYourIP(net.IPv4(10, 210, 0, 0)))},
		{"subnet broadcast", ack(t, dhcpv4.WithYourIP(net.IPv4(10, 210, 0, 255)))},
		{"nil", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LeaseFromACK(tc.p, t0); !errors.Is(err, ErrBadLease) {
				t.Fatalf("want ErrBadLease, got %v", err)
			}
		})
	}
}

func TestLeasePhasesAndRetries(t *testing.T) {
	l := Lease{Obtained: t0, Duration: 1000 * time.Second, T1: 500 * time.Second, T2: 875 * time.Second}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, tc := range []struct {
		now, last int // seconds after t0; last < 0 means no attempt yet
		phase     Phase
		next      time.Duration
	}{
		{now: 0, last: -1, phase: Bound, next: 500 * time.Second},
		{now: 499, last: -1, phase: Bound, next: 500 * time.Second},
		{now: 500, last: -1, phase: Renewing, next: 500 * time.Second},          // first renewal at once
		{now: 500, last: 500, phase: Renewing, next: 687500 * time.Millisecond}, // half of the 375 s to T2
		{now: 800, last: 790, phase: Renewing, next: 860 * time.Second},         // half of 75 s is below the 60 s floor
		{now: 870, last: 860, phase: Renewing, next: 875 * time.Second},         // never past T2
		{now: 875, last: 860, phase: Rebinding, next: 875 * time.Second},        // first rebind at once
		{now: 880, last: 875, phase: Rebinding, next: 940 * time.Second},        // half of 120 s
		{now: 990, last: 980, phase: Rebinding, next: 1000 * time.Second},       // never past expiry
		{now: 1000, last: 990, phase: Expired, next: 1000 * time.Second},        // expired: act now
		{now: 1500, last: -1, phase: Expired, next: 1500 * time.Second},
	} {
		last := time.Time{}
		if tc.last >= 0 {
			last = at(tc.last)
		}
		if got := l.PhaseAt(at(tc.now)); got != tc.phase {
			t.Errorf("at %ds: phase %v, want %v", tc.now, got, tc.phase)
		}
		if got := l.NextAttempt(at(tc.now), last); got.Sub(t0) != tc.next {
			t.Errorf("at %ds after try at %ds: next %v, want %v", tc.now, tc.last, got.Sub(t0), tc.next)
		}
	}
	inf := Lease{Obtained: t0, Infinite: true}
	if inf.PhaseAt(at(1e9)) != Bound || !inf.NextAttempt(at(5), time.Time{}).IsZero() || !inf.Expiry().IsZero() {
		t.Error("an infinite lease never renews or expires")
	}
}
