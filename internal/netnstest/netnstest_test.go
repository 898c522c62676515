package netnstest

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBridgeAndNeighbours cables two namespaces to a bridge, sends one UDP
// datagram from a to b inside a, and expects a's neighbour table to hold b's
// real MAC: traffic really flowed through the veths and the bridge.
func TestBridgeAndNeighbours(t *testing.T) {
	br := NewBridge(t, "br")
	a, b := New(t, "a"), New(t, "b")
	br.Attach(a, "eth0")
	br.Attach(b, "eth0")
	a.AddAddr("eth0", netip.MustParsePrefix("10.201.0.1/24"))
	b.AddAddr("eth0", netip.MustParsePrefix("10.201.0.2/24"))
	bIP := netip.MustParseAddr("10.201.0.2")

	a.MustDo(func() error {
		c, err := net.Dial("udp4", "10.201.0.2:9")
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("x"))
		return err
	})
	want := b.HardwareAddr("eth0")
	Eventually(t, 3*time.Second, "a to resolve b's MAC", func() bool {
		mac, err := a.NeighbourMAC("eth0", bIP)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Equal(mac, want)
	})
	// The host namespace must not have learned anything about 10.201.0.2.
	if out, _ := exec.Command("ip", "neigh", "show", "to", "10.201.0.2").Output(); strings.TrimSpace(string(out)) != "" {
		t.Errorf("host neighbour table has a test address: %s", out)
	}
}

// TestStartRunsInsideNamespace checks that a started process sees the
// namespace's interfaces, not the host's.
func TestStartRunsInsideNamespace(t *testing.T) {
	a, b := New(t, "sa"), New(t, "sb")
	Veth(a, "veth-a", b, "veth-b")
	a.AddAddr("veth-a", netip.MustParsePrefix("10.202.0.1/24"))
	p := a.Start("ip", "-o", "addr", "show")
	if err := p.Err(); err != nil {
		t.Fatalf("ip addr show: %v: %s", err, p.Output())
	}
	if !strings.Contains(p.Output(), "10.202.0.1/24") || !strings.Contains(p.Output(), "veth-a") {
		t.Errorf("process did not run inside %s; it saw:\n%s", a.Name, p.Output())
	}
}

// TestCleanupRemovesEverything runs a subtest that creates a namespace and
// a long-running process, then checks that both are gone afterwards.
func TestCleanupRemovesEverything(t *testing.T) {
	var name string
	var pid int
	t.Run("inner", func(t *testing.T) {
		ns := New(t, "cl")
		name = ns.Name
		p := ns.Start("sleep", "600")
		pid = p.Cmd.Process.Pid
	})
	if name == "" {
		t.Fatal("inner test did not create a namespace")
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), name) {
		t.Errorf("namespace %s still exists after cleanup", name)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still exists after cleanup (kill 0: %v)", pid, err)
	}
}

// TestDoRestoresNamespace checks that the calling thread is back in the
// host namespace after Do, so the next socket is not opened in the wrong place.
func TestDoRestoresNamespace(t *testing.T) {
	ns := New(t, "do")
	var inside []net.Interface
	ns.MustDo(func() error {
		var err error
		inside, err = net.Interfaces()
		return err
	})
	if len(inside) != 1 || inside[0].Name != "lo" {
		t.Fatalf("inside a fresh namespace want only lo, got %v", inside)
	}
	if err := ns.Do(func() error { return errors.New("boom") }); err == nil || err.Error() != "boom" {
		t.Fatalf("Do must return fn's error, got %v", err)
	}
}
