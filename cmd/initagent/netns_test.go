package main

import (
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
)

// TestAgentConfiguresPortsInNamespace runs the agent with -manage-network
// inside a network namespace whose eth0 is cabled to a real DHCP server
// (dnsmasq) and whose eth1 is a direct-connect cable to a peer: the
// first-boot keys from the kernel command line (eth0=dhcp, static eth1)
// are applied through osnet, and the ready line reports the leased eth0
// address and the static eth1 address.
func TestAgentConfiguresPortsInNamespace(t *testing.T) {
	testenv.RequireCommand(t, "dnsmasq")
	app := netnstest.New(t, "agent")
	srv := netnstest.New(t, "agentdhcp")
	peer := netnstest.New(t, "agentpeer")
	netnstest.Veth(app, "eth0", srv, "eth0")
	netnstest.Veth(app, "eth1", peer, "eth1")
	srv.AddAddr("eth0", netip.MustParsePrefix("10.232.0.1/24"))
	peer.AddAddr("eth1", netip.MustParsePrefix("10.233.0.2/30"))

	dir := t.TempDir()
	dns := srv.Start("dnsmasq",
		"--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
		"--user=root", "--group=root", "--dhcp-authoritative", "--no-ping",
		"--interface=eth0", "--bind-interfaces", "--log-dhcp", "--log-facility=-",
		"--dhcp-range=10.232.0.50,10.232.0.60,255.255.255.0,2m",
		"--dhcp-option=option:router,10.232.0.1",
		"--dhcp-option=option:dns-server,10.232.0.53",
		"--dhcp-leasefile="+filepath.Join(dir, "leases"),
		"--pid-file="+filepath.Join(dir, "pid"),
	)
	netnstest.Eventually(t, 5*time.Second, "dnsmasq to listen", func() bool {
		return strings.Contains(dns.Output(), "DHCP, sockets bound")
	})

	root := newApplianceRoot(t, "hafw.hostname=mse-ns hafw.eth0=dhcp hafw.eth1=10.233.0.1/30 hafw.dc=eth1\n")
	t.Setenv("HAFW_TEST_AGENT", "1")
	t.Setenv("HAFW_TEST_DIR", root.dir)
	t.Setenv("NOTIFY_SOCKET", "")
	resolv := filepath.Join(root.dir, "resolv.conf")
	agent := app.Start(root.self, root.args("-manage-network", "-resolv-conf", resolv)...)

	var ready string
	netnstest.Eventually(t, 60*time.Second, "the ready line", func() bool {
		for _, l := range strings.Split(agent.Output(), "\n") {
			if strings.HasPrefix(l, "hafw-ready:") {
				ready = l
				return true
			}
		}
		return false
	})
	want := regexp.MustCompile(`^hafw-ready: host=mse-ns profile=VA-Low role=none eth0=10\.232\.0\.(5\d|60)/24 eth1=10\.233\.0\.1/30 license=not-activated$`)
	if !want.MatchString(ready) {
		t.Errorf("ready line %q does not match %s", ready, want)
	}
	t.Logf("ready line: %s", ready)
	leased := strings.TrimPrefix(regexp.MustCompile(`eth0=\S+`).FindString(ready), "eth0=")
	if out := app.IP("-4", "addr", "show", "dev", "eth0"); !strings.Contains(out, "inet "+leased) {
		t.Errorf("eth0 does not carry the leased %s:\n%s", leased, out)
	}
	if out := app.IP("-4", "route", "show", "default"); !strings.Contains(out, "via 10.232.0.1 dev eth0") {
		t.Errorf("no default route from the lease:\n%s", out)
	}
	if out := app.IP("-4", "addr", "show", "dev", "eth1"); !strings.Contains(out, "inet 10.233.0.1/30") {
		t.Errorf("eth1 lacks its direct-connect address:\n%s", out)
	}

	if err := agent.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-agent.Exited():
		if err := agent.Err(); err != nil {
			t.Errorf("agent exit: %v\n%s", err, agent.Output())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("agent did not stop:\n%s", agent.Output())
	}
}
