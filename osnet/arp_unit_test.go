package osnet

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// memConn is an in-memory raw Ethernet PacketConn: frames written are
// passed to respond, whose returned frames are queued for reading.
type memConn struct {
	mu       sync.Mutex
	queue    [][]byte
	wake     chan struct{}
	deadline time.Time
	written  [][]byte
	respond  func(frame []byte) [][]byte
}

func newMemConn(respond func([]byte) [][]byte) *memConn {
	return &memConn{wake: make(chan struct{}, 1), respond: respond}
}

func (c *memConn) push(frames ...[]byte) {
	c.mu.Lock()
	c.queue = append(c.queue, frames...)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *memConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			f := c.queue[0]
			c.queue = c.queue[1:]
			c.mu.Unlock()
			return copy(b, f), nil, nil
		}
		d := time.Until(c.deadline)
		c.mu.Unlock()
		if d <= 0 {
			return 0, nil, os.ErrDeadlineExceeded
		}
		select {
		case <-c.wake:
		case <-time.After(d):
		}
	}
}

func (c *memConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	c.mu.Lock()
	c.written = append(c.written, bytes.Clone(b))
	c.mu.Unlock()
	if c.respond != nil {
		c.push(c.respond(b)...)
	}
	return len(b), nil
}

func (c *memConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return nil
}

func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return nil }
func (c *memConn) SetDeadline(t time.Time) error    { return c.SetReadDeadline(t) }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

var (
	selfMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	otherMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	thirdMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x03}
)

func replyFrom(t testing.TB, mac net.HardwareAddr, ip netip.Addr) []byte {
	t.Helper()
	f, err := arpFrame(arp.OperationReply, mac, ip, selfMAC, netip.IPv4Unspecified(), selfMAC)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestProbeLogic runs Probe against scripted neighbours, without root.
func TestProbeLogic(t *testing.T) {
	vip := mustAddr("10.206.0.100")
	var answers [][]byte
	conn := newMemConn(func(frame []byte) [][]byte {
		p, err := decodeARP(frame)
		if err != nil || p.Operation != arp.OperationRequest || p.TargetIP != vip {
			return nil
		}
		return answers
	})
	a := newARP("eth0", selfMAC, conn, testLogger(t))

	// Junk, a non-ARP frame, our own echo and an answer for another
	// address surround the two real owners (one answering twice).
	ipv4Frame, _ := (&ethernet.Frame{Destination: selfMAC, Source: otherMAC, EtherType: ethernet.EtherTypeIPv4, Payload: make([]byte, 46)}).MarshalBinary()
	answers = [][]byte{
		{1, 2, 3},
		ipv4Frame,
		replyFrom(t, selfMAC, vip),
		replyFrom(t, otherMAC, mustAddr("10.206.0.1")),
		replyFrom(t, otherMAC, vip),
		replyFrom(t, otherMAC, vip),
		replyFrom(t, thirdMAC, vip),
	}
	owners, err := a.Probe(context.Background(), vip, netip.Addr{}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(owners) != 2 || !bytes.Equal(owners[0], otherMAC) || !bytes.Equal(owners[1], thirdMAC) {
		t.Fatalf("owners %v, want [%v %v]", owners, otherMAC, thirdMAC)
	}

	// The request itself: broadcast, who-has vip, sender 0.0.0.0 for a probe.
	req, err := decodeARP(conn.written[0])
	if err != nil {
		t.Fatal(err)
	}
	if req.Operation != arp.OperationRequest || req.SenderIP != netip.IPv4Unspecified() || req.TargetIP != vip || !bytes.Equal(req.SenderHardwareAddr, selfMAC) {
		t.Fatalf("probe request %+v", req)
	}
	if !bytes.Equal(conn.written[0][:6], ethernet.Broadcast) {
		t.Fatalf("probe not broadcast: %x", conn.written[0][:6])
	}

	// Nobody answers: the request is repeated (lost frames) and the probe
	// ends empty at the timeout.
	answers = nil
	conn.written = nil
	owners, err = a.Probe(context.Background(), vip, mustAddr("10.206.0.3"), 150*time.Millisecond)
	if err != nil || len(owners) != 0 {
		t.Fatalf("silent segment: %v, %v", owners, err)
	}
	if len(conn.written) != probeSends {
		t.Fatalf("sent %d requests, want %d", len(conn.written), probeSends)
	}
}

// TestAnnounceFrames checks both gratuitous forms as Linux expects them.
func TestAnnounceFrames(t *testing.T) {
	conn := newMemConn(nil)
	a := newARP("eth0", selfMAC, conn, testLogger(t))
	vip := mustAddr("10.206.0.100")
	if err := a.Burst(context.Background(), vip, 2, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if len(conn.written) != 4 {
		t.Fatalf("a burst of 2 wrote %d frames, want 4", len(conn.written))
	}
	for i, f := range conn.written {
		p, err := decodeARP(f)
		if err != nil {
			t.Fatal(err)
		}
		wantOp := []arp.Operation{arp.OperationRequest, arp.OperationReply}[i%2]
		if p.Operation != wantOp || p.SenderIP != vip || p.TargetIP != vip || !bytes.Equal(p.SenderHardwareAddr, selfMAC) || !bytes.Equal(f[:6], ethernet.Broadcast) {
			t.Fatalf("frame %d: %+v", i, p)
		}
		if wantOp == arp.OperationReply && !bytes.Equal(p.TargetHardwareAddr, selfMAC) {
			t.Fatalf("reply form needs target MAC = sender MAC for Linux to take it as gratuitous: %+v", p)
		}
	}
}
