package osnet

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzLeaseFromACK feeds arbitrary server packets through the DHCP lease
// parser: it must never panic, and a lease it accepts must be safe to
// apply (a host address with a usable mask, a gateway inside the subnet,
// timers in order).
func FuzzLeaseFromACK(f *testing.F) {
	f.Add(ack(f).ToBytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := dhcpv4.FromBytes(data)
		if err != nil {
			return
		}
		l, err := LeaseFromACK(p, t0)
		if err != nil {
			return
		}
		if !l.Address.IsValid() || !l.Address.Addr().Is4() || l.Address.Bits() < 1 || l.Address.Bits() > 30 {
			t.Fatalf("accepted unusable address %v", l.Address)
		}
		if l.Router.IsValid() && (!l.Address.Masked().Contains(l.Router) || l.Router == l.Address.Addr()) {
			t.Fatalf("accepted router %v for %v", l.Router, l.Address)
		}
		if !l.Infinite && !(0 < l.T1 && l.T1 < l.T2 && l.T2 < l.Duration && l.Duration >= minLeaseTime) {
			t.Fatalf("timers out of order: T1 %v T2 %v lease %v", l.T1, l.T2, l.Duration)
		}
		for _, now := range []time.Time{t0, t0.Add(l.T1), t0.Add(l.T2), t0.Add(l.Duration)} {
			next := l.NextAttempt(now, time.Time{})
			if !l.Infinite && next.Before(now) {
				t.Fatalf("next attempt %v before now %v", next, now)
			}
		}
	})
}

// FuzzDecodeARP feeds arbitrary frames through the ARP decoder that the
// probe reads from the wire: no panics, and what it accepts re-encodes to
// the same ARP fields.
func FuzzDecodeARP(f *testing.F) {
	mac := []byte{0x02, 0, 0, 0, 0, 1}
	frames, err := garpFrames(mac, netip.MustParseAddr("10.210.0.100"))
	if err != nil {
		f.Fatal(err)
	}
	for _, fr := range frames {
		f.Add(fr)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decodeARP(data)
		if err != nil {
			return
		}
		if len(p.SenderHardwareAddr) != 6 || !p.SenderIP.Is4() || !p.TargetIP.Is4() {
			t.Fatalf("accepted malformed packet %+v", p)
		}
		again, err := arpFrame(p.Operation, p.SenderHardwareAddr, p.SenderIP, p.TargetHardwareAddr, p.TargetIP, mac)
		if err != nil {
			t.Fatalf("accepted packet does not re-encode: %v", err)
		}
		q, err := decodeARP(again)
		if err != nil || q.SenderIP != p.SenderIP || q.TargetIP != p.TargetIP || !bytes.Equal(q.SenderHardwareAddr, p.SenderHardwareAddr) || q.Operation != p.Operation {
			t.Fatalf("round trip changed %+v into %+v (%v)", p, q, err)
		}
		if m, ok := claimant(p, p.SenderIP, mac); ok && (bytes.Equal(m, mac) || m[0]&1 != 0) {
			t.Fatalf("claimant %v is ours or multicast", m)
		}
	})
}
