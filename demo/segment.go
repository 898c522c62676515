package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
)

// Segment is the private L2 segment of the demo: a network namespace
// holding a bridge (br0) with the client's address and one tap device per
// appliance. QEMU runs inside the namespace (ip netns exec) and opens its
// tap there; the demo's own connections are dialled inside it too, so no
// test traffic ever touches the host's network.
type Segment struct {
	Name   string
	handle netns.NsHandle
	taps   int
}

// NewSegment creates the namespace hafw-demo-<random> with br0 up and
// clientAddr (ADDR/PREFIX) on it.
func NewSegment(clientAddr string) (*Segment, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("naming the namespace: %w", err)
	}
	s := &Segment{Name: "hafw-demo-" + hex.EncodeToString(b[:]), handle: netns.None()}
	if err := runCmd("ip", "netns", "add", s.Name); err != nil {
		return nil, err
	}
	h, err := netns.GetFromName(s.Name)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("opening namespace %s: %w", s.Name, err)
	}
	s.handle = h
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "br0", "type", "bridge"},
		{"link", "set", "br0", "up"},
		{"addr", "add", clientAddr, "dev", "br0"},
	} {
		if err := s.IP(args...); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// IP runs `ip -n NAME args...`.
func (s *Segment) IP(args ...string) error {
	return runCmd("ip", append([]string{"-n", s.Name}, args...)...)
}

// AddTap creates the next tap device (tap0, tap1, …) on br0 and returns its
// name for QEMU's -netdev tap,ifname=.
func (s *Segment) AddTap() (string, error) {
	name := fmt.Sprintf("tap%d", s.taps)
	s.taps++
	for _, args := range [][]string{
		{"tuntap", "add", "dev", name, "mode", "tap"},
		{"link", "set", name, "master", "br0"},
		{"link", "set", name, "up"},
	} {
		if err := s.IP(args...); err != nil {
			return "", err
		}
	}
	return name, nil
}

// DialContext opens a connection from inside the namespace. The dial runs
// on a goroutine whose OS thread is switched into the namespace and never
// unlocked, so the Go runtime retires that thread instead of reusing it in
// the wrong namespace; the socket stays in the namespace for its life.
func (s *Segment) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(s.handle); err != nil {
			ch <- result{err: fmt.Errorf("entering namespace %s: %w", s.Name, err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// Command returns cmd prepared to run inside the namespace.
func (s *Segment) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", s.Name, name}, args...)...)
}

// Close deletes the namespace (and with it the bridge and taps). Call it
// after every QEMU in the namespace has exited.
func (s *Segment) Close() error {
	var errs []error
	if s.handle.IsOpen() {
		errs = append(errs, s.handle.Close())
	}
	errs = append(errs, runCmd("ip", "netns", "del", s.Name))
	return errors.Join(errs...)
}

func runCmd(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
