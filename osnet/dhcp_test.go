package osnet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
)

// startDnsmasq runs a real DHCP server (Debian's dnsmasq, DNS disabled,
// authoritative) on srv's eth0 = 10.204.0.1/24, handing out the given
// range with router 10.204.0.1, DNS 10.204.0.53 and T1 = 3 s (dnsmasq
// ignores T1 ≤ 2 s).
func startDnsmasq(t *testing.T, srv *netnstest.NS, first, last string) *netnstest.Proc {
	t.Helper()
	testenv.RequireCommand(t, "dnsmasq")
	dir := t.TempDir()
	p := srv.Start("dnsmasq",
		"--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
		"--user=root", "--group=root", "--dhcp-authoritative", "--no-ping",
		"--interface=eth0", "--bind-interfaces", "--log-dhcp", "--log-facility=-",
		"--dhcp-range=10.204.0."+first+",10.204.0."+last+",255.255.255.0,2m",
		"--dhcp-option=option:router,10.204.0.1",
		"--dhcp-option=option:dns-server,10.204.0.53",
		"--dhcp-option=option:domain-name,lab.test",
		"--dhcp-option=option:T1,3",
		"--dhcp-option=option:T2,90",
		"--dhcp-leasefile="+filepath.Join(dir, "leases"),
		"--pid-file="+filepath.Join(dir, "pid"),
	)
	netnstest.Eventually(t, 5*time.Second, "dnsmasq to listen", func() bool {
		return strings.Contains(p.Output(), "DHCP, sockets bound")
	})
	return p
}

// leaseRecorder collects the leases the Host applies.
type leaseRecorder struct {
	mu     sync.Mutex
	leases []Lease
}

func (r *leaseRecorder) hook(_ string, l Lease) {
	r.mu.Lock()
	r.leases = append(r.leases, l)
	r.mu.Unlock()
}

func (r *leaseRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.leases)
}

// TestDHCPLeaseAppliedAndRenewed gets a lease from dnsmasq in another
// namespace and checks, with ip(8), that the address, mask and gateway of
// the lease are on the interface; then waits for a renewal at T1 (3 s).
func TestDHCPLeaseAppliedAndRenewed(t *testing.T) {
	client, srv := twoNodes(t)
	srv.AddAddr("eth0", mustPrefix("10.204.0.1/24"))
	dnsmasq := startDnsmasq(t, srv, "50", "60")
	rec := &leaseRecorder{}
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	h := hostIn(t, client, WithLeaseHook(rec.hook), WithResolvConf(resolv))

	var st Status
	client.MustDo(func() error {
		var err error
		st, err = h.Configure(context.Background(), "eth0", config.Interface{Enabled: true, DHCP: true})
		return err
	})
	if st.State != StateConfigured || !st.DHCP {
		t.Fatalf("no lease: %+v\ndnsmasq:\n%s", st, dnsmasq.Output())
	}
	addr := st.Address
	if !mustPrefix("10.204.0.0/24").Contains(addr.Addr()) || addr.Bits() != 24 || addr.Addr().As4()[3] < 50 || addr.Addr().As4()[3] > 60 {
		t.Fatalf("leased %v, want 10.204.0.50-60/24", addr)
	}
	if st.ReadyField() != addr.String() || st.Gateway != mustAddr("10.204.0.1") {
		t.Fatalf("status %+v", st)
	}
	out := client.IP("-4", "-o", "addr", "show", "dev", "eth0")
	if !strings.Contains(out, "inet "+addr.String()) || !strings.Contains(out, "valid_lft") || strings.Contains(out, "valid_lft forever") {
		t.Fatalf("lease not applied with its lifetime: %s", out)
	}
	if out := client.IP("route", "show", "default"); !strings.Contains(out, "default via 10.204.0.1 dev eth0") {
		t.Fatalf("gateway from the lease not applied: %q", out)
	}
	l := rec.leases[0]
	if len(l.DNS) != 1 || l.DNS[0] != mustAddr("10.204.0.53") || l.DomainName != "lab.test" || l.T1 != 3*time.Second {
		t.Fatalf("lease details %+v", l)
	}
	if got, err := os.ReadFile(resolv); err != nil || !strings.Contains(string(got), "nameserver 10.204.0.53\n") || !strings.Contains(string(got), "search lab.test\n") {
		t.Fatalf("resolv.conf from the lease: %q, %v", got, err)
	}

	netnstest.Eventually(t, 10*time.Second, "a renewal at T1", func() bool { return rec.count() >= 2 })
	rec.mu.Lock()
	renewed := rec.leases[1]
	rec.mu.Unlock()
	if renewed.Address != addr || !renewed.Obtained.After(l.Obtained) {
		t.Fatalf("renewal gave %+v after %+v", renewed, l)
	}
	if n := strings.Count(dnsmasq.Output(), "DHCPACK(eth0) "+addr.Addr().String()+" "); n < 2 {
		t.Errorf("dnsmasq acknowledged %d requests, want the first and the renewal:\n%s", n, dnsmasq.Output())
	}
}

// TestDHCPPendingThenLease boots "before the DHCP server": Configure comes
// back dhcp-pending, and the background client gets the lease once the
// server starts.
func TestDHCPPendingThenLease(t *testing.T) {
	testenv.Short(t, "waits for DHCP retries")
	client, srv := twoNodes(t)
	srv.AddAddr("eth0", mustPrefix("10.204.0.1/24"))
	h := hostIn(t, client, WithDHCPWait(500*time.Millisecond))
	var st Status
	client.MustDo(func() error {
		var err error
		st, err = h.Configure(context.Background(), "eth0", config.Interface{Enabled: true, DHCP: true})
		return err
	})
	if st.State != StateDHCPPending || st.ReadyField() != "dhcp-pending" {
		t.Fatalf("without a server: %+v", st)
	}
	startDnsmasq(t, srv, "50", "60")
	netnstest.Eventually(t, 30*time.Second, "a lease after the server started", func() bool {
		st, err := h.Status("eth0")
		return err == nil && st.State == StateConfigured
	})
	st, _ = h.Status("eth0")
	if out := client.IP("-4", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(out, "inet "+st.Address.String()) {
		t.Fatalf("status says %v but the interface has %s", st.Address, out)
	}
}

// TestDHCPNakStartsOver replaces the server by one with another range: the
// renewal at T1 is refused (NAK), the old address goes, and the client
// takes a new lease from the new range.
func TestDHCPNakStartsOver(t *testing.T) {
	testenv.Short(t, "waits for T1")
	client, srv := twoNodes(t)
	srv.AddAddr("eth0", mustPrefix("10.204.0.1/24"))
	first := startDnsmasq(t, srv, "50", "60")
	h := hostIn(t, client)
	var st Status
	client.MustDo(func() error {
		var err error
		st, err = h.Configure(context.Background(), "eth0", config.Interface{Enabled: true, DHCP: true})
		return err
	})
	if st.State != StateConfigured {
		t.Fatalf("no first lease: %+v", st)
	}
	old := st.Address
	if err := first.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.Exited()
	second := startDnsmasq(t, srv, "70", "80")
	netnstest.Eventually(t, 20*time.Second, "a lease from the new range", func() bool {
		st, err := h.Status("eth0")
		return err == nil && st.State == StateConfigured && st.Address.Addr().As4()[3] >= 70
	})
	out := client.IP("-4", "-o", "addr", "show", "dev", "eth0")
	if strings.Contains(out, "inet "+old.String()) {
		t.Fatalf("the refused address %v is still there: %s", old, out)
	}
	if !strings.Contains(second.Output(), "DHCPNAK") {
		t.Errorf("the new server sent no NAK:\n%s", second.Output())
	}
}

// TestDHCPStopsWithContext checks that cancelling Configure's context stops
// the client goroutine (Close would hang otherwise).
func TestDHCPStopsWithContext(t *testing.T) {
	client, _ := twoNodes(t)
	h := hostIn(t, client, WithDHCPWait(100*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	client.MustDo(func() error {
		_, err := h.Configure(ctx, "eth0", config.Interface{Enabled: true, DHCP: true})
		return err
	})
	cancel()
	done := make(chan struct{})
	go func() { h.stopDHCP("eth0"); h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal(fmt.Errorf("DHCP goroutine still running 10 s after its context ended"))
	}
}
