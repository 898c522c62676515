// Package sdnotify is the receiving end of the systemd notify protocol
// (sd_notify(3)): a supervisor gives each child a NOTIFY_SOCKET and learns
// from the child's datagrams when it is ready to serve. Speaking the
// protocol on both sides means the same binaries run unchanged under
// systemd, under the init agent (which supervises hmd) and under hmd
// (which runs the service instance's applications).
package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
)

// Socket is one child's notify socket.
type Socket struct {
	conn   *net.UnixConn
	path   string
	ready  chan struct{} // closed on the first READY=1
	closed chan struct{} // closed when the socket is closed
	// pings receives a value for WATCHDOG=1 (at most one pending: a
	// supervisor only needs to know that one came since it last looked).
	pings chan struct{}
}

// Listen creates the datagram socket at path (replacing a stale one left
// by a crash) and starts reading it.
func Listen(path string) (*Socket, error) {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("remove stale notify socket: %w", err)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("listen on notify socket: %w", err)
	}
	s := &Socket{conn: conn, path: path, ready: make(chan struct{}), closed: make(chan struct{}), pings: make(chan struct{}, 1)}
	go s.read()
	return s, nil
}

// Env is the environment entry that hands the socket to a child.
func (s *Socket) Env() string { return "NOTIFY_SOCKET=" + s.path }

// WaitReady returns nil once the child has sent READY=1, ctx's error when
// ctx ends first, or net.ErrClosed when the socket was closed first.
func (s *Socket) WaitReady(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		select {
		case <-s.ready:
			return nil
		default:
			return net.ErrClosed
		}
	}
}

// Watchdog receives once for every WATCHDOG=1 the child sent since the
// last receive (pings in between are merged). A supervisor that gave the
// child WATCHDOG_USEC restarts it when a period passes without one.
func (s *Socket) Watchdog() <-chan struct{} { return s.pings }

// Closed is closed once the socket is closed.
func (s *Socket) Closed() <-chan struct{} { return s.closed }

// Close stops listening and removes the socket file.
func (s *Socket) Close() error {
	err := s.conn.Close()
	os.Remove(s.path)
	return err
}

// read takes the datagrams until the socket is closed. A datagram holds
// newline-separated assignments ("READY=1\nSTATUS=…"); READY=1 matters
// once (its first occurrence), WATCHDOG=1 every time.
func (s *Socket) read() {
	defer close(s.closed)
	buf := make([]byte, 4096)
	said := false
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			switch {
			case line == "READY=1" && !said:
				said = true
				close(s.ready)
			case line == "WATCHDOG=1":
				select {
				case s.pings <- struct{}{}:
				default:
				}
			}
		}
	}
}
