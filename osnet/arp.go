package osnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// ARP sends gratuitous ARP and probes on one interface through a raw
// packet socket. It is the Linux implementation of Announcer and Prober.
// Announcements may run concurrently with a probe; probes take turns.
type ARP struct {
	ifname string
	mac    net.HardwareAddr
	conn   net.PacketConn
	log    *slog.Logger
	// probeMu serializes probes: each one drains and reads the socket.
	probeMu sync.Mutex
}

// DialARP opens an ARP socket on ifname (in the calling thread's namespace).
// Unlike mdlayher/arp.Dial it does not need an IPv4 address on the
// interface, so a secondary can probe before it has any.
func DialARP(ifname string, log *slog.Logger) (*ARP, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("open ARP on %s: %w", ifname, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("open ARP on %s: not an Ethernet interface", ifname)
	}
	conn, err := packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
	if err != nil {
		return nil, fmt.Errorf("open ARP socket on %s: %w", ifname, err)
	}
	return newARP(ifname, ifi.HardwareAddr, conn, log), nil
}

// newARP wraps any packet conn carrying raw Ethernet frames; unit tests
// pass an in-memory one.
func newARP(ifname string, mac net.HardwareAddr, conn net.PacketConn, log *slog.Logger) *ARP {
	return &ARP{ifname: ifname, mac: mac, conn: conn, log: log.With("interface", ifname)}
}

// Close closes the socket.
func (a *ARP) Close() error { return a.conn.Close() }

// HardwareAddr is the interface's MAC, the one announcements carry.
func (a *ARP) HardwareAddr() net.HardwareAddr { return a.mac }

var broadcastAddr = &packet.Addr{HardwareAddr: ethernet.Broadcast}

func (a *ARP) send(frame []byte) error {
	if _, err := a.conn.WriteTo(frame, broadcastAddr); err != nil {
		return fmt.Errorf("send ARP on %s: %w", a.ifname, err)
	}
	return nil
}

// Announce broadcasts ip is-at our MAC once, in both gratuitous forms
// (request and reply), so that neighbours and switches move ip to us.
func (a *ARP) Announce(ip netip.Addr) error {
	frames, err := garpFrames(a.mac, ip)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range frames {
		errs = append(errs, a.send(f))
	}
	return errors.Join(errs...)
}

// Burst announces ip count times, gap apart: hmd's takeover burst, so one
// lost frame does not leave a client on the old owner's MAC. It stops at
// ctx's end and returns the last send error, if every send failed.
func (a *ARP) Burst(ctx context.Context, ip netip.Addr, count int, gap time.Duration) error {
	var lastErr error
	sent := 0
	for i := range count {
		if i > 0 && !sleepUntil(ctx, time.Now().Add(gap)) {
			break
		}
		if err := a.Announce(ip); err != nil {
			lastErr = err
			continue
		}
		sent++
	}
	if sent == 0 && lastErr != nil {
		return lastErr
	}
	return nil
}

// Refresh announces ip every period until ctx ends, so that switch and
// neighbour tables do not age the VIP out. Send errors (a port that lost
// its carrier, say) are logged and retried at the next period: a refresh
// loop must outlive a flapping cable. It returns nil when ctx ends.
func (a *ARP) Refresh(ctx context.Context, ip netip.Addr, every time.Duration) error {
	if every <= 0 {
		return fmt.Errorf("refresh %s on %s: period must be positive", ip, a.ifname)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := a.Announce(ip); err != nil {
				a.log.Warn("gratuitous ARP refresh failed", "ip", ip, "err", err)
			}
		}
	}
}

// Probe timing: the request is sent probeSends times spread over the
// timeout, so one lost frame does not hide an owner; once an owner has
// answered, others get probeGrace to answer too before Probe returns.
const (
	probeSends = 3
	probeGrace = 20 * time.Millisecond
	// probeTick bounds how long a read blocks, so ctx is honoured promptly.
	probeTick = 50 * time.Millisecond
)

// Probe asks who holds target and returns the MACs (other than ours) that
// claim it — by answering, or by announcing it themselves meanwhile —
// within timeout. No answer gives an empty list and a nil error. sender is
// the IPv4 source of the request; the zero Addr sends 0.0.0.0 (an RFC 5227
// probe, which pollutes no neighbour cache), as for the VIP check. The
// gateway vote uses the node's own address.
func (a *ARP) Probe(ctx context.Context, target, sender netip.Addr, timeout time.Duration) ([]net.HardwareAddr, error) {
	if !target.Is4() {
		return nil, fmt.Errorf("probe %s: not an IPv4 address", target)
	}
	if !sender.IsValid() {
		sender = netip.IPv4Unspecified()
	}
	req, err := arpFrame(arp.OperationRequest, a.mac, sender, zeroMAC, target, ethernet.Broadcast)
	if err != nil {
		return nil, err
	}
	a.probeMu.Lock()
	defer a.probeMu.Unlock()
	if err := a.drain(); err != nil {
		return nil, err
	}

	now := time.Now()
	deadline := now.Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var owners []net.HardwareAddr
	sends, nextSend := 0, now
	buf := make([]byte, 1500)
	for {
		now = time.Now()
		if !now.Before(deadline) {
			return owners, nil
		}
		if err := ctx.Err(); err != nil {
			return owners, fmt.Errorf("probe %s on %s: %w", target, a.ifname, err)
		}
		if sends < probeSends && !now.Before(nextSend) {
			if err := a.send(req); err != nil {
				return owners, err
			}
			sends++
			nextSend = now.Add(timeout / probeSends)
		}
		wake := earliest(deadline, now.Add(probeTick))
		if sends < probeSends {
			wake = earliest(wake, nextSend)
		}
		if err := a.conn.SetReadDeadline(wake); err != nil {
			return owners, fmt.Errorf("probe %s on %s: %w", target, a.ifname, err)
		}
		n, _, err := a.conn.ReadFrom(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			return owners, fmt.Errorf("probe %s on %s: read: %w", target, a.ifname, err)
		}
		p, err := decodeARP(buf[:n])
		if err != nil {
			continue
		}
		mac, ok := claimant(p, target, a.mac)
		if !ok || slices.ContainsFunc(owners, func(m net.HardwareAddr) bool { return bytes.Equal(m, mac) }) {
			continue
		}
		owners = append(owners, slices.Clone(mac))
		if grace := time.Now().Add(probeGrace); grace.Before(deadline) {
			deadline = grace
		}
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// drainWait is how long drain waits for more queued frames (a deadline
// already in the past would fail the read before it looks at the queue);
// drainMax bounds the whole drain on a segment that never stops chattering.
const (
	drainWait = time.Millisecond
	drainMax  = 20 * time.Millisecond
)

// drain discards frames that queued up while nobody was probing, so an old
// announcement is not mistaken for a current answer. On a packet socket it
// empties the receive queue with non-blocking reads, which takes every
// queued frame however late this goroutine runs (a read deadline can pass
// before the read looks at the queue on a busy machine, leaving a stale
// announcement behind); other conns (tests) are drained by deadline.
func (a *ARP) drain() error {
	if sc, ok := a.conn.(syscall.Conn); ok {
		return a.drainQueue(sc)
	}
	buf := make([]byte, 1500)
	end := time.Now().Add(drainMax)
	for time.Now().Before(end) {
		if err := a.conn.SetReadDeadline(earliest(time.Now().Add(drainWait), end)); err != nil {
			return fmt.Errorf("drain ARP socket on %s: %w", a.ifname, err)
		}
		if _, _, err := a.conn.ReadFrom(buf); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil
			}
			return fmt.Errorf("drain ARP socket on %s: %w", a.ifname, err)
		}
	}
	return nil
}

// drainQueue reads the socket's queue empty without blocking.
func (a *ARP) drainQueue(sc syscall.Conn) error {
	rc, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("drain ARP socket on %s: %w", a.ifname, err)
	}
	// RawConn.Read honours the read deadline, which the last probe left
	// in the past: clear it (the callback never waits).
	if err := a.conn.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("drain ARP socket on %s: %w", a.ifname, err)
	}
	buf := make([]byte, 1500)
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			_, _, err := unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EWOULDBLOCK) {
				return true
			}
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				rerr = err
				return true
			}
		}
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("drain ARP socket on %s: %w", a.ifname, err)
	}
	return nil
}
