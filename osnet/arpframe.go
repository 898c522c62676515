package osnet

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// zeroMAC is the target hardware address of an ARP request: unknown.
var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// errNotARP marks frames that are not Ethernet/IPv4 ARP; readers skip them.
var errNotARP = errors.New("not an Ethernet/IPv4 ARP frame")

// arpFrame builds an Ethernet frame carrying one ARP packet, sent from
// src to the Ethernet destination dst.
func arpFrame(op arp.Operation, src net.HardwareAddr, sender netip.Addr, targetMAC net.HardwareAddr, target netip.Addr, dst net.HardwareAddr) ([]byte, error) {
	p, err := arp.NewPacket(op, src, sender, targetMAC, target)
	if err != nil {
		return nil, fmt.Errorf("build ARP packet %s→%s: %w", sender, target, err)
	}
	payload, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode ARP packet: %w", err)
	}
	f := ethernet.Frame{Destination: dst, Source: src, EtherType: ethernet.EtherTypeARP, Payload: payload}
	b, err := f.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode Ethernet frame: %w", err)
	}
	return b, nil
}

// garpFrames are the two gratuitous ARP forms for ip held by mac, both
// broadcast: a request (who-has ip tell ip) and a reply (ip is-at mac)
// whose target hardware address is our own, which Linux requires to treat
// a reply as gratuitous. Some switches and hosts only learn from one form.
func garpFrames(mac net.HardwareAddr, ip netip.Addr) ([][]byte, error) {
	req, err := arpFrame(arp.OperationRequest, mac, ip, zeroMAC, ip, ethernet.Broadcast)
	if err != nil {
		return nil, err
	}
	rep, err := arpFrame(arp.OperationReply, mac, ip, mac, ip, ethernet.Broadcast)
	if err != nil {
		return nil, err
	}
	return [][]byte{req, rep}, nil
}

// decodeARP parses a raw Ethernet frame read from the wire. Anything that
// is not a well-formed Ethernet/IPv4 ARP packet gives errNotARP (wrapped).
func decodeARP(frame []byte) (*arp.Packet, error) {
	var f ethernet.Frame
	if err := f.UnmarshalBinary(frame); err != nil {
		return nil, fmt.Errorf("%w: %v", errNotARP, err)
	}
	if f.EtherType != ethernet.EtherTypeARP {
		return nil, fmt.Errorf("%w: ethertype %v", errNotARP, f.EtherType)
	}
	b := f.Payload
	// Header: htype(2) ptype(2) hlen(1) plen(1) op(2). Check the lengths
	// before the library slices by them.
	if len(b) < 8 || b[0] != 0 || b[1] != 1 || b[2] != 0x08 || b[3] != 0x00 || b[4] != 6 || b[5] != 4 {
		return nil, fmt.Errorf("%w: not Ethernet/IPv4 ARP", errNotARP)
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("%w: %v", errNotARP, err)
	}
	if p.Operation != arp.OperationRequest && p.Operation != arp.OperationReply {
		return nil, fmt.Errorf("%w: operation %d", errNotARP, p.Operation)
	}
	return &p, nil
}

// claimant returns the MAC that p shows holding target: a reply or a
// gratuitous announcement whose sender IP is target, from a MAC that is
// neither ours nor a multicast/zero address (which no real holder uses).
func claimant(p *arp.Packet, target netip.Addr, self net.HardwareAddr) (net.HardwareAddr, bool) {
	if p.SenderIP != target || bytes.Equal(p.SenderHardwareAddr, self) {
		return nil, false
	}
	mac := p.SenderHardwareAddr
	if len(mac) != 6 || bytes.Equal(mac, zeroMAC) || mac[0]&1 != 0 {
		return nil, false
	}
	return mac, true
}
