// Command gapprobe is the client and the service of the failover
// benchmarks (hmd/hmdtest/bench_test.go), run as their own processes
// inside the test's network namespaces so that nothing of the measuring
// test process (its scheduling, its garbage collector, goroutines switching
// namespaces) shows up as a client gap.
//
//	gapprobe serve -name mse1 -port 9000
//
// answers every UDP datagram on the port with the datagram and the node's
// name, from the address it was sent to (so that an answer to the VIP
// comes from the VIP).
//
//	gapprobe probe -target 10.238.0.10:9000 -every 5ms -threshold 20ms
//
// sends a numbered datagram every interval until SIGTERM or SIGINT and
// takes the answers' arrival times from the kernel (SO_TIMESTAMPNS), so a
// late wake-up of the prober does not count as a late answer. It prints
// "first NAME UNIXNANO" when a node answers for the first time, "from NAME
// UNIXNANO" whenever the answers start coming from another node than the
// previous answer (the client's traffic flipped), and at the
// end one "episode" line per stretch in which a client waited longer than
// the threshold and one "summary" line, both JSON.
//
// The benchmarks start both under SCHED_FIFO (chrt), so that other work
// on a shared machine delays the instruments as little as possible; hmd
// itself runs at normal priority.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hafw/hafw/hmd/hmdtest/gapprobe/gapreport"
	"golang.org/x/sys/unix"
)

// header is a probe's payload: its sequence number and sending time.
const header = 16

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gapprobe serve|probe [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var err error
	switch os.Args[1] {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ExitOnError)
		name := fs.String("name", "", "name to answer with")
		port := fs.Int("port", 9000, "UDP port")
		_ = fs.Parse(os.Args[2:])
		var conn *net.UDPConn
		conn, err = listen(netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(*port)), unix.IPPROTO_IP, unix.IP_PKTINFO)
		if err == nil {
			fmt.Printf("serving %s on %s\n", *name, conn.LocalAddr())
			err = serve(ctx, conn, *name)
		}
	case "probe":
		fs := flag.NewFlagSet("probe", flag.ExitOnError)
		target := fs.String("target", "", "ip:port to probe")
		every := fs.Duration("every", 5*time.Millisecond, "interval between probes")
		threshold := fs.Duration("threshold", 20*time.Millisecond, "report waits longer than this")
		_ = fs.Parse(os.Args[2:])
		var to netip.AddrPort
		if to, err = netip.ParseAddrPort(*target); err != nil {
			err = fmt.Errorf("-target: %w", err)
			break
		}
		err = runProbe(ctx, os.Stdout, to, *every, *threshold)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gapprobe:", err)
		os.Exit(1)
	}
}

// listen opens a UDP socket on addr with the socket option level/opt
// switched on: IP_PKTINFO for the server (to answer from the address a
// probe was sent to), SO_TIMESTAMPNS for the prober (kernel receive times).
func listen(addr netip.AddrPort, level, opt int) (*net.UDPConn, error) {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	raw, err := conn.SyscallConn()
	if err == nil {
		cerr := raw.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), level, opt, 1) })
		err = errors.Join(cerr, err)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("socket option %d on %s: %w", opt, addr, err)
	}
	return conn, nil
}

// serve answers probes until ctx ends: the probe's header, then name, sent
// from the probe's destination address.
func serve(ctx context.Context, conn *net.UDPConn, name string) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	buf := make([]byte, 1500)
	oob := make([]byte, 128)
	out := make([]byte, 0, header+len(name))
	for {
		n, oobn, _, from, err := conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read: %w", err)
		}
		if n < header {
			continue
		}
		var reply []byte
		if dst, ok := pktinfoDst(oob[:oobn]); ok {
			reply = unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: dst})
		}
		out = append(append(out[:0], buf[:header]...), name...)
		if _, _, err := conn.WriteMsgUDPAddrPort(out, reply, from); err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "gapprobe: answer:", err)
		}
	}
}

// pktinfoDst is the destination address of a received datagram.
func pktinfoDst(oob []byte) ([4]byte, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return [4]byte{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO && len(m.Data) >= unix.SizeofInet4Pktinfo {
			var dst [4]byte
			copy(dst[:], m.Data[8:12]) // struct in_pktinfo: ifindex, spec_dst, addr
			return dst, true
		}
	}
	return [4]byte{}, false
}

// rxTime is the kernel's receive timestamp of a datagram.
func rxTime(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
			return time.Unix(sec, nsec), true
		}
	}
	return time.Time{}, false
}

// prober keeps the record of one run.
type prober struct {
	mu     sync.Mutex
	probes []probe
	first  map[string]bool
	last   string // who sent the previous answer
	out    io.Writer
}

// runProbe probes to until ctx ends, then waits a moment for late answers
// and writes the episodes and the summary to w.
func runProbe(ctx context.Context, w io.Writer, to netip.AddrPort, every, threshold time.Duration) error {
	conn, err := listen(netip.AddrPortFrom(netip.IPv4Unspecified(), 0), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS)
	if err != nil {
		return err
	}
	defer conn.Close()
	p := &prober{first: map[string]bool{}, out: w}
	readDone := make(chan error, 1)
	go func() { readDone <- p.read(conn) }()

	buf := make([]byte, header)
	next := time.Now()
	for ctx.Err() == nil {
		now := time.Now()
		p.mu.Lock()
		seq := uint64(len(p.probes))
		p.probes = append(p.probes, probe{sent: now})
		p.mu.Unlock()
		binary.BigEndian.PutUint64(buf[0:8], seq)
		binary.BigEndian.PutUint64(buf[8:16], uint64(now.UnixNano()))
		// A failing send (no route yet, a neighbour that does not
		// resolve) is an unanswered probe, which is what it is to a client.
		_, _ = conn.WriteToUDPAddrPort(buf, to)
		next = next.Add(every)
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		} else {
			next = time.Now() // late: keep the interval, do not burst
		}
	}
	end := time.Now()
	// Answers already on their way still count.
	time.Sleep(max(4*every, 50*time.Millisecond))
	conn.Close()
	if err := <-readDone; err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := summarize(p.probes, end, threshold)
	enc := json.NewEncoder(w)
	for _, e := range s.Episodes {
		if err := enc.Encode(struct {
			Kind string `json:"kind"`
			gapreport.Episode
		}{"episode", e}); err != nil {
			return err
		}
	}
	return enc.Encode(struct {
		Kind string `json:"kind"`
		gapreport.Summary
	}{"summary", s})
}

// read records answers until conn is closed.
func (p *prober) read(conn *net.UDPConn) error {
	buf := make([]byte, 1500)
	oob := make([]byte, 128)
	for {
		n, oobn, _, _, err := conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// ECONNREFUSED and the like: an ICMP error for an earlier
			// probe, which simply stays unanswered.
			continue
		}
		if n < header {
			continue
		}
		rx, ok := rxTime(oob[:oobn])
		if !ok {
			rx = time.Now()
		}
		seq := binary.BigEndian.Uint64(buf[0:8])
		name := string(buf[header:n])
		p.mu.Lock()
		if seq < uint64(len(p.probes)) && !p.probes[seq].answered {
			p.probes[seq].answered, p.probes[seq].rx, p.probes[seq].name = true, rx, name
			if !p.first[name] {
				p.first[name] = true
				fmt.Fprintf(p.out, "first %s %d\n", name, rx.UnixNano())
			}
			if name != p.last {
				p.last = name
				fmt.Fprintf(p.out, "from %s %d\n", name, rx.UnixNano())
			}
		}
		p.mu.Unlock()
	}
}
