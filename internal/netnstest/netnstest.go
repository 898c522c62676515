// Package netnstest builds throw-away networks for tests that need real
// interfaces: network namespaces with random names, veth pairs, a bridge in a
// namespace of its own, addresses, processes started inside a namespace and a
// look at a namespace's neighbour (ARP) table.
//
// Everything a test creates is removed in t.Cleanup, on every exit path
// (pass, Fatal, panic): processes are killed first, then the namespaces are
// deleted, which also removes their veths and bridges. The host's own
// namespace is never touched: links are created directly inside the test's
// namespaces (`ip -n NS link add … peer … netns OTHER`).
//
// Use only 10.2xx.0.0/24 addresses inside these namespaces, so that nothing
// can collide with the host's or another team's networks.
package netnstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/hafw/hafw/internal/testenv"
)

// NS is one network namespace created for a test.
type NS struct {
	// Name is the namespace's name as `ip netns` knows it (hafw-<label>-<random>).
	Name string
	t    testing.TB
}

var labelRE = regexp.MustCompile(`[^a-z0-9]+`)

// New creates an empty network namespace named hafw-<label>-<random> with
// its loopback up. It needs root and the ip command; otherwise the test is
// skipped locally and fails in CI. The namespace is deleted in t.Cleanup.
func New(t testing.TB, label string) *NS {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "ip")
	label = labelRE.ReplaceAllString(strings.ToLower(label), "")
	if len(label) > 12 {
		label = label[:12]
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatalf("netnstest: random name: %v", err)
	}
	ns := &NS{Name: "hafw-" + label + "-" + hex.EncodeToString(rnd[:]), t: t}
	if out, err := exec.Command("ip", "netns", "add", ns.Name).CombinedOutput(); err != nil {
		t.Fatalf("netnstest: ip netns add %s: %v: %s", ns.Name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
			t.Errorf("netnstest: ip netns del %s: %v: %s", ns.Name, err, out)
		}
	})
	ns.IP("link", "set", "lo", "up")
	return ns
}

// IP runs `ip -n NS args...` and fails the test on error. It returns the
// command's standard output.
func (ns *NS) IP(args ...string) string {
	ns.t.Helper()
	out, err := ns.TryIP(args...)
	if err != nil {
		ns.t.Fatalf("netnstest: %v", err)
	}
	return out
}

// TryIP runs `ip -n NS args...` and returns its error instead of failing,
// for steps a test expects to fail or wants to retry.
func (ns *NS) TryIP(args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"-n", ns.Name}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ip -n %s %s: %w: %s", ns.Name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Veth creates a veth pair: aName inside a, bName inside b, both up.
func Veth(a *NS, aName string, b *NS, bName string) {
	a.t.Helper()
	a.IP("link", "add", aName, "type", "veth", "peer", "name", bName, "netns", b.Name)
	a.IP("link", "set", aName, "up")
	b.IP("link", "set", bName, "up")
}

// Bridge is a Linux bridge (br0) alone in its own namespace: a switch that
// test namespaces are cabled to with Attach.
type Bridge struct {
	NS    *NS
	mu    sync.Mutex
	ports int
}

// NewBridge creates a namespace holding one bridge, br0, that is up.
func NewBridge(t testing.TB, label string) *Bridge {
	t.Helper()
	ns := New(t, label)
	ns.IP("link", "add", "br0", "type", "bridge")
	ns.IP("link", "set", "br0", "up")
	return &Bridge{NS: ns}
}

// Attach cables ns to the bridge: ifname appears in ns (up, no address),
// its peer becomes a port of br0. It returns the bridge-side port name, so
// that a test can unplug the cable with SetPort(port, false).
func (b *Bridge) Attach(ns *NS, ifname string) string {
	b.NS.t.Helper()
	b.mu.Lock()
	b.ports++
	port := fmt.Sprintf("p%d", b.ports)
	b.mu.Unlock()
	Veth(ns, ifname, b.NS, port)
	b.NS.IP("link", "set", port, "master", "br0")
	return port
}

// SetPort brings a bridge port up or down: the far end loses carrier, as
// when a cable is pulled.
func (b *Bridge) SetPort(port string, up bool) {
	b.NS.t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	b.NS.IP("link", "set", port, state)
}

// AddAddr adds prefix (for example 10.201.0.2/24) to ifname.
func (ns *NS) AddAddr(ifname string, prefix netip.Prefix) {
	ns.t.Helper()
	ns.IP("addr", "add", prefix.String(), "dev", ifname)
}

// Do runs fn with the calling goroutine's OS thread switched into ns, and
// switches back afterwards. Sockets (and netlink handles) opened inside fn
// stay in ns for their whole life and may be used from any goroutine
// afterwards; goroutines started inside fn do NOT run in ns.
//
// If the thread cannot be switched back it is left locked, so that the Go
// runtime retires it instead of reusing a thread in the wrong namespace.
func (ns *NS) Do(fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("get current network namespace: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns.Name)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open network namespace %s: %w", ns.Name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter network namespace %s: %w", ns.Name, err)
	}
	fnErr := fn()
	if err := netns.Set(orig); err != nil {
		// Stay locked: the thread exits with the goroutine.
		return errors.Join(fnErr, fmt.Errorf("return from network namespace %s: %w", ns.Name, err))
	}
	runtime.UnlockOSThread()
	return fnErr
}

// MustDo is Do that fails the test on error.
func (ns *NS) MustDo(fn func() error) {
	ns.t.Helper()
	if err := ns.Do(fn); err != nil {
		ns.t.Fatalf("netnstest: in %s: %v", ns.Name, err)
	}
}

// Sysctl writes a net.* sysctl inside ns, e.g. Sysctl("net/ipv4/conf/all/arp_accept", "1").
func (ns *NS) Sysctl(key, value string) {
	ns.t.Helper()
	ns.MustDo(func() error {
		return os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0o644)
	})
}

// Proc is a process running inside a namespace; its combined output is
// kept for the test's failure messages.
type Proc struct {
	Cmd    *exec.Cmd
	output *lockedBuffer
	done   chan struct{}
	err    error
}

// Start runs name with args inside ns (via `ip netns exec`) in its own
// process group. The process group is killed and waited for in t.Cleanup,
// before the namespace is deleted.
func (ns *NS) Start(name string, args ...string) *Proc {
	ns.t.Helper()
	return start(ns.t, name+" in "+ns.Name, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// StartHere is Start in the test's own network namespace (a loopback
// server that needs no namespace of its own).
func StartHere(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	return start(t, name, name, args...)
}

// start runs the command in its own process group; label names it in
// errors and in the output logged when the test fails.
func start(t testing.TB, label, name string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("netnstest: start %s: %v", label, err)
	}
	p := &Proc{Cmd: cmd, output: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("output of %s:\n%s", label, p.Output())
		}
	})
	return p
}

// Output returns what the process has written so far.
func (p *Proc) Output() string { return p.output.String() }

// Exited returns a channel closed when the process has exited; Err then
// holds its exit status.
func (p *Proc) Exited() <-chan struct{} { return p.done }

// Err is the process's exit status once Exited is closed.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// Signal sends sig to the process group.
func (p *Proc) Signal(sig syscall.Signal) error {
	return syscall.Kill(-p.Cmd.Process.Pid, sig)
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Neighbour is one IPv4 entry of a neighbour (ARP) table.
type Neighbour struct {
	IP    netip.Addr
	MAC   net.HardwareAddr
	State int // netlink.NUD_*
}

// Neighbours reads ns's IPv4 neighbour table for ifname.
func (ns *NS) Neighbours(ifname string) ([]Neighbour, error) {
	h, err := ns.handle()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	link, err := h.LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("find %s in %s: %w", ifname, ns.Name, err)
	}
	list, err := h.NeighList(link.Attrs().Index, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list neighbours of %s in %s: %w", ifname, ns.Name, err)
	}
	var res []Neighbour
	for _, n := range list {
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		res = append(res, Neighbour{IP: ip.Unmap(), MAC: n.HardwareAddr, State: n.State})
	}
	return res, nil
}

// NeighbourMAC returns the MAC ns has resolved for ip on ifname, or nil.
// Entries that are incomplete or failed count as unresolved.
func (ns *NS) NeighbourMAC(ifname string, ip netip.Addr) (net.HardwareAddr, error) {
	list, err := ns.Neighbours(ifname)
	if err != nil {
		return nil, err
	}
	for _, n := range list {
		if n.IP == ip && len(n.MAC) > 0 && n.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED) == 0 {
			return n.MAC, nil
		}
	}
	return nil, nil
}

// HardwareAddr returns ifname's MAC address inside ns.
func (ns *NS) HardwareAddr(ifname string) net.HardwareAddr {
	ns.t.Helper()
	h, err := ns.handle()
	if err != nil {
		ns.t.Fatalf("netnstest: %v", err)
	}
	defer h.Close()
	link, err := h.LinkByName(ifname)
	if err != nil {
		ns.t.Fatalf("netnstest: find %s in %s: %v", ifname, ns.Name, err)
	}
	return link.Attrs().HardwareAddr
}

// handle returns a netlink handle bound to ns; the caller closes it.
func (ns *NS) handle() (*netlink.Handle, error) {
	target, err := netns.GetFromName(ns.Name)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", ns.Name, err)
	}
	defer target.Close()
	h, err := netlink.NewHandleAt(target)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", ns.Name, err)
	}
	return h, nil
}

// Eventually polls cond every 20 ms until it returns true or timeout
// passes, then fails the test with what.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		case <-tick.C:
		}
	}
}
