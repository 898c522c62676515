package hmdtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
)

// Binaries built once for the whole test binary.
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binaryPath builds the programs the tests run — hmd, gethainfo, hactl,
// setup, the reference service (tracker) and the benchmarks' instrument
// (gapprobe) — once, and returns the path of one of them.
func binaryPath(t testing.TB, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "hafw-hmdtest-")
		if buildErr != nil {
			return
		}
		// hmd starts the tracker as the application account.
		if buildErr = os.Chmod(binDir, 0o755); buildErr != nil {
			return
		}
		args := []string{"build", "-buildvcs=false", "-o", binDir + "/"}
		if os.Getenv("HMDTEST_RACE") == "1" {
			// Build the daemons with the race detector (slow; for a
			// developer chasing a concurrency bug).
			args = append(args, "-race")
		}
		args = append(args, "github.com/hafw/hafw/cmd/hmd", "github.com/hafw/hafw/cmd/gethainfo", "github.com/hafw/hafw/cmd/hactl", "github.com/hafw/hafw/cmd/setup",
			"github.com/hafw/hafw/cmd/tracker", "github.com/hafw/hafw/hmd/hmdtest/gapprobe")
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

const password = "test-password-1"

// passwordHash is computed once: PBKDF2 at 600k rounds is slow on purpose.
var passwordHash = sync.OnceValues(func() (string, error) { return config.HashPassword(password) })

// lan is a bridge with a client namespace that is also the default gateway
// (.1) of the test subnet.
type lan struct {
	t      testing.TB
	br     *netnstest.Bridge
	client *netnstest.NS
	subnet string // "10.231.0"
}

func newLAN(t testing.TB, subnet string) *lan {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "ip", "nft", "go")
	l := &lan{t: t, br: netnstest.NewBridge(t, "br"), client: netnstest.New(t, "client"), subnet: subnet}
	l.br.Attach(l.client, "eth0")
	l.client.AddAddr("eth0", l.prefix(1))
	return l
}

func (l *lan) addr(host int) netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("%s.%d", l.subnet, host))
}
func (l *lan) prefix(host int) netip.Prefix {
	return netip.PrefixFrom(l.addr(host), 24)
}

// node is one appliance: a namespace on the LAN running hmd.
type node struct {
	t        testing.TB
	name     string
	ns       *netnstest.NS
	port     string // bridge port, for pulling the cable
	dir      string
	cfgPath  string
	stateDir string
	socket   string
	proc     *netnstest.Proc
	args     []string
	hip      netip.Addr
}

// addNode creates an appliance at .host with the given role and profile;
// vipHost > 0 gives a primary its VIP. Each edit may change the
// configuration and the namespace before hmd starts.
func (l *lan) addNode(name string, host int, role config.Role, profile string, vipHost int, edits ...func(*config.Appliance, *netnstest.NS)) *node {
	t := l.t
	t.Helper()
	ns := netnstest.New(t, name)
	port := l.br.Attach(ns, "eth0")
	ns.AddAddr("eth0", l.prefix(host))
	ns.IP("route", "add", "default", "via", l.addr(1).String())
	hash, err := passwordHash()
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Hostname, cfg.Role, cfg.Profile, cfg.PasswordHash = name, role, profile, hash
	cfg.Eth0 = config.Interface{Enabled: true, Address: l.prefix(host), Gateway: l.addr(1)}
	if vipHost > 0 {
		cfg.VIP = l.prefix(vipHost)
	}
	for _, edit := range edits {
		edit(&cfg, ns)
	}
	dir := appReachable(t, t.TempDir())
	n := &node{t: t, name: name, ns: ns, port: port, dir: dir, cfgPath: filepath.Join(dir, "appliance.json"),
		stateDir: filepath.Join(dir, "hmd"), socket: filepath.Join(dir, "hmd.sock"), hip: l.addr(host)}
	if err := config.Save(n.cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	n.args = []string{"--config", n.cfgPath, "--state-dir", n.stateDir, "--socket", n.socket,
		"--version-file", filepath.Join(dir, "no-version"), "--profile-file", filepath.Join(dir, "no-profile"),
		"--vendor-key", filepath.Join(dir, "no-key"), "--license-dir", filepath.Join(dir, "licenses"), "--log-level", "debug"}
	n.start()
	return n
}

// start runs hmd and waits until its local API answers.
func (n *node) start() {
	n.t.Helper()
	n.proc = n.ns.Start(binaryPath(n.t, "hmd"), n.args...)
	proc := n.proc
	n.t.Cleanup(func() {
		if strings.Contains(proc.Output(), "WARNING: DATA RACE") {
			n.t.Errorf("%s's hmd reported a data race:\n%s", n.name, proc.Output())
		}
	})
	netnstest.Eventually(n.t, 10*time.Second, n.name+"'s hmd to answer", func() bool {
		select {
		case <-n.proc.Exited():
			n.t.Fatalf("%s's hmd exited: %v\n%s", n.name, n.proc.Err(), n.proc.Output())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := n.api().Status(ctx)
		return err == nil
	})
}

func (n *node) api() *api.Client { return api.NewUnixClient(n.socket) }

// appReachable opens dir (a t.TempDir, 0700 like its parent) for the
// application account hmd starts its applications as, which must reach
// the instance API socket and the files the tests' health checks look at.
func appReachable(t testing.TB, dir string) string {
	t.Helper()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func (n *node) status() api.Status {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := n.api().Status(ctx)
	if err != nil {
		n.t.Fatalf("%s status: %v", n.name, err)
	}
	return st
}

// gethainfo runs the real CLI against this node's socket and state.
func (n *node) gethainfo() string {
	n.t.Helper()
	out, err := exec.Command(binaryPath(n.t, "gethainfo"), "--socket", n.socket, "--config", n.cfgPath, "--state-dir", n.stateDir).CombinedOutput()
	if err != nil {
		n.t.Fatalf("gethainfo on %s: %v\n%s", n.name, err, out)
	}
	return string(out)
}

// field returns the value of "key: value" lines of gethainfo, in order.
func field(out, key string) []string {
	var vals []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+": "); ok {
			vals = append(vals, v)
		}
	}
	return vals
}

// waitState waits until gethainfo shows want as peer block i's state.
func (n *node) waitState(i int, want string, timeout time.Duration) {
	n.t.Helper()
	var last string
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		last = n.gethainfo()
		if s := field(last, "Current state"); len(s) > i && s[i] == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.t.Fatalf("%s: peer %d never reached %s; gethainfo:\n%s\nhmd output:\n%s", n.name, i+1, want, last, n.proc.Output())
}

// kill is a power failure: the cable is pulled (a live kernel would keep
// answering ARP for the VIP it still has), hmd dies (kill -9, its
// applications with it) and what the box's kernel held in memory is lost —
// the VIP and every other address hmd added, the neighbour cache — as
// when the box boots again. A namespace would keep them: plugging the
// cable back in before the restarted hmd removes the VIP would let a dead
// node answer ARP for it, which no real power cycle does (and which made
// the client's writes to the serving secondary time out on a busy
// machine). crash keeps them, for the tests of that start-up cleanup.
func (n *node) kill(l *lan) {
	n.t.Helper()
	n.crash(l)
	n.forgetVolatileNetwork()
}

// crash is hmd dying while its box's kernel lives on: kill -9 and the
// cable pulled, but the VIP stays configured on eth0 — what hmd's start-up
// cleanup must remove.
func (n *node) crash(l *lan) {
	n.t.Helper()
	l.br.SetPort(n.port, false)
	if err := n.proc.Signal(syscall.SIGKILL); err != nil {
		n.t.Fatal(err)
	}
	<-n.proc.Exited()
}

// forgetVolatileNetwork drops what a reboot loses on eth0: every IPv4
// address but the node's own (which the boot configures again) and the
// neighbour cache.
func (n *node) forgetVolatileNetwork() {
	n.t.Helper()
	for _, line := range strings.Split(n.ns.IP("-o", "-4", "addr", "show", "dev", "eth0"), "\n") {
		f := strings.Fields(line)
		i := slices.Index(f, "inet")
		if i < 0 || i+1 >= len(f) {
			continue
		}
		if p, err := netip.ParsePrefix(f[i+1]); err == nil && p.Addr() != n.hip {
			n.ns.IP("addr", "del", p.String(), "dev", "eth0")
		}
	}
	n.ns.IP("neigh", "flush", "dev", "eth0")
}

// hasAddr reports whether ip is configured on the node's eth0.
func (n *node) hasAddr(ip netip.Addr) bool {
	out := n.ns.IP("-o", "-4", "addr", "show", "dev", "eth0")
	return strings.Contains(out, " "+ip.String()+"/")
}

// pair pairs secondary to primary through the primary's local API.
func pair(t testing.TB, primary, secondary *node, failover, failback string, wait time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := primary.api().Pair(ctx, api.PairRequest{SecondaryName: secondary.name, SecondaryIP: secondary.hip.String(),
		SecondaryPassword: password, FailoverType: failover, FailbackType: failback, LongFailoverWait: api.Duration(wait),
		SecondaryFingerprint: secondary.status().CertFingerprint})
	if err != nil {
		t.Fatalf("pair %s with %s: %v\nprimary:\n%s\nsecondary:\n%s", primary.name, secondary.name, err, primary.proc.Output(), secondary.proc.Output())
	}
	t.Logf("pair: %s", res.Message)
}

// newPair is the usual pair on a fresh LAN in subnet: mse1 (primary, VIP
// .10) and mse2 (secondary), paired with automatic failover, manual
// failback and a 500 ms failover wait, both settled in their active
// states. prepare, when set, readies the nodes before the pairing (their
// services, flags).
func newPair(t testing.TB, subnet string, prepare func(l *lan, p, s *node)) (l *lan, p, s *node) {
	t.Helper()
	return pairWithWait(t, subnet, 500*time.Millisecond, prepare)
}

// pairWithWait is newPair with another failover wait (the benchmarks').
func pairWithWait(t testing.TB, subnet string, wait time.Duration, prepare func(l *lan, p, s *node)) (l *lan, p, s *node) {
	t.Helper()
	l = newLAN(t, subnet)
	p = l.addNode("mse1", 2, config.RolePrimary, "3355", 10)
	s = l.addNode("mse2", 3, config.RoleSecondary, "3355", 0)
	if prepare != nil {
		prepare(l, p, s)
	}
	pair(t, p, s, "automatic", "manual", wait)
	p.waitState(0, "PRIMARY_ACTIVE", 10*time.Second)
	s.waitState(0, "SECONDARY_ACTIVE", 10*time.Second)
	return l, p, s
}

// serveNames makes both nodes answer their names on servicePort.
func serveNames(_ *lan, p, s *node) {
	p.serveName(servicePort)
	s.serveName(servicePort)
}

// serveName listens on port in the node's namespace (on every address, so
// also on the VIP while it holds it) and answers each connection with the
// node's name.
func (n *node) serveName(port int) { serveName(n.t, n.ns, n.name, port) }

// serveName answers every TCP connection to port in ns with name.
func serveName(t testing.TB, ns *netnstest.NS, name string, port int) {
	t.Helper()
	var ln net.Listener
	ns.MustDo(func() error {
		var err error
		ln, err = net.Listen("tcp4", fmt.Sprintf(":%d", port))
		return err
	})
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, name)
			c.Close()
		}
	}()
}

// ask connects from the client namespace to ip:port and returns the name
// the server answered, or "" on failure.
func (l *lan) ask(ip netip.Addr, port int) string { return l.askWithin(ip, port, 300*time.Millisecond) }

// askWithin is ask with a connect timeout; a short one keeps a prober's
// resolution fine (one attempt stuck on a dead MAC blocks only that long).
func (l *lan) askWithin(ip netip.Addr, port int, timeout time.Duration) string {
	var name string
	_ = l.client.Do(func() error {
		c, err := net.DialTimeout("tcp4", netip.AddrPortFrom(ip, uint16(port)).String(), timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		name = strings.TrimSpace(line)
		return err
	})
	return name
}

// clientMAC is the client's neighbour entry for ip.
func (l *lan) clientMAC(ip netip.Addr) net.HardwareAddr {
	mac, err := l.client.NeighbourMAC("eth0", ip)
	if err != nil {
		l.t.Fatal(err)
	}
	return mac
}

func sameMAC(a, b net.HardwareAddr) bool { return bytes.Equal(a, b) }
