package hmdtest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
)

// TestNToOne: a 3355 secondary backs up a 3310 and a 3350 (figure 3). Its
// gethainfo shows one block per primary with the seed's instance names;
// when the first primary dies it takes that VIP, and when the second dies
// too it refuses a second failover (one at a time) with an event.
func TestNToOne(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l := newLAN(t, "10.235.0")
	p1 := l.addNode("mse3350", 22, config.RolePrimary, "3350", 21)
	p2 := l.addNode("mse3310", 17, config.RolePrimary, "3310", 18)
	s := l.addNode("mse3355", 16, config.RoleSecondary, "3355", 0)
	vip1, vip2 := l.addr(21), l.addr(18)
	pair(t, p1, s, "automatic", "manual", 500*time.Millisecond)
	pair(t, p2, s, "automatic", "manual", 500*time.Millisecond)
	s.waitState(0, "SECONDARY_ACTIVE", 10*time.Second)
	s.waitState(1, "SECONDARY_ACTIVE", 10*time.Second)
	out := s.gethainfo()
	if got := field(out, "Number of paired peers"); len(got) != 1 || got[0] != "2" {
		t.Fatalf("secondary gethainfo:\n%s", out)
	}
	if got := strings.Join(field(out, "Instance database name"), ","); got != "mseos3,mseos4" {
		t.Errorf("instance names %s, want mseos3,mseos4", got)
	}
	if got := strings.Join(field(out, "Instance database port"), ","); got != "1524,1525" {
		t.Errorf("instance ports %s, want 1524,1525", got)
	}
	if got := field(p2.gethainfo(), "Instance database name"); len(got) != 1 || got[0] != "mseos4s" {
		t.Errorf("second primary's instance name %v, want mseos4s", got)
	}

	p1.kill(l)
	s.waitState(0, "FAILOVER_ACTIVE", 10*time.Second)
	p2.kill(l)
	netnstest.Eventually(t, 10*time.Second, "the refused second failover to be logged", func() bool {
		evs, _ := s.hactl("events", "--peer", p2.hip.String())
		return strings.Contains(evs, "Takeover refused") && strings.Contains(evs, "already active for "+p1.hip.String())
	})
	if !s.hasAddr(vip1) || s.hasAddr(vip2) {
		t.Fatalf("the secondary must serve only the first primary's VIP (vip1 %v, vip2 %v)", s.hasAddr(vip1), s.hasAddr(vip2))
	}
}

// TestPairingRefusalsAndLifecycle: pairing is refused with clear reasons
// (wrong password named as a field, different versions), succeeds, is
// deleted cleanly from the primary (both sides forget it), and hmd exits
// 78 on a configuration error and 0 on SIGTERM after telling the peer, with
// readiness sent to NOTIFY_SOCKET.
func TestPairingRefusalsAndLifecycle(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l := newLAN(t, "10.236.0")
	p := l.addNode("mse1", 2, config.RolePrimary, "VA-Low", 10)
	s := l.addNode("mse2", 3, config.RoleSecondary, "VA-Low", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := api.PairRequest{SecondaryName: "mse2", SecondaryIP: s.hip.String(), SecondaryPassword: "wrong-password",
		FailoverType: "automatic", FailbackType: "manual", LongFailoverWait: api.Duration(time.Second),
		SecondaryFingerprint: s.status().CertFingerprint}
	var ae *api.Error
	if _, err := p.api().Pair(ctx, req); !errors.As(err, &ae) || len(ae.Fields) != 1 || ae.Fields[0].Field != "secondary_password" {
		t.Fatalf("wrong password: %v", err)
	}
	// A virtual secondary without its activation license is refused with
	// the seed's message.
	req.SecondaryPassword = password
	if _, err := p.api().Pair(ctx, req); !errors.As(err, &ae) || ae.Code != http.StatusConflict || !strings.Contains(ae.Message, "Virtual Appliance license") {
		t.Fatalf("unlicensed VA secondary: %v", err)
	}
	if st := p.status(); len(st.Peers) != 0 {
		t.Fatalf("a refused pairing left a peer: %+v", st.Peers)
	}
	// The unactivated virtual secondary may take no role.
	if st := s.status(); st.State != api.StateNone {
		t.Errorf("unactivated VA secondary's state %s, want %s", st.State, api.StateNone)
	}

	// Physical appliances with different versions.
	l2 := newLAN(t, "10.237.0")
	p2 := l2.addNode("mse1", 2, config.RolePrimary, "3355", 10)
	s2 := l2.addNode("mse2", 3, config.RoleSecondary, "3355", 0)
	if err := os.WriteFile(filepath.Join(s2.dir, "no-version"), []byte("8.0.120.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s2.restart()
	req.SecondaryIP, req.SecondaryFingerprint = s2.hip.String(), s2.status().CertFingerprint
	if _, err := p2.api().Pair(ctx, req); !errors.As(err, &ae) || !strings.Contains(ae.Message, "same software version") {
		t.Fatalf("version mismatch: %v", err)
	}
	// The unpaired secondary says so; it does not claim to stand by.
	if st := s2.status(); st.State != api.StateNotPaired {
		t.Errorf("unpaired secondary's state %s, want %s", st.State, api.StateNotPaired)
	}
	if err := os.Remove(filepath.Join(s2.dir, "no-version")); err != nil {
		t.Fatal(err)
	}

	// Readiness: restart the secondary with a NOTIFY_SOCKET to listen on.
	notify := filepath.Join(s2.dir, "notify.sock")
	nl, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	t.Setenv("NOTIFY_SOCKET", notify)
	s2.restart()
	_ = nl.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	n, err := nl.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Fatalf("readiness: %q %v", buf[:n], err)
	}

	pair(t, p2, s2, "automatic", "manual", time.Second)
	p2.waitState(0, "PRIMARY_ACTIVE", 10*time.Second)
	s2.waitState(0, "SECONDARY_ACTIVE", 10*time.Second)

	// SIGTERM on the primary (an orderly reboot, automatic failover): it
	// exits 0 after telling the secondary, which does not fail over.
	vip := l2.addr(10)
	if err := p2.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p2.proc.Err(); err != nil {
		t.Fatalf("hmd after SIGTERM: %v\n%s", err, p2.proc.Output())
	}
	out := p2.gethainfo()
	if got := field(out, "Last shutdown state"); len(got) != 1 || got[0] != "PRIMARY_ACTIVE" {
		t.Fatalf("gethainfo after graceful stop:\n%s", out)
	}
	if p2.hasAddr(vip) {
		t.Fatal("the stopped primary left its VIP behind")
	}
	time.Sleep(2 * time.Second) // two failover waits
	if st := s2.status().Peers[0]; st.State != "SECONDARY_ACTIVE" || st.PeerState != "GRACEFUL_SHUTDOWN" || s2.hasAddr(vip) {
		t.Fatalf("secondary after the primary's graceful stop: %+v (VIP %v)", st, s2.hasAddr(vip))
	}
	if evs, _ := s2.hactl("events"); !strings.Contains(evs, "shut down gracefully") {
		t.Errorf("the secondary did not log why it does not fail over:\n%s", evs)
	}
	p2.start()
	p2.waitState(0, "PRIMARY_ACTIVE", 10*time.Second)
	netnstest.Eventually(t, 5*time.Second, "the VIP back on the primary", func() bool { return p2.hasAddr(vip) })

	// Delete the secondary from the primary: both forget the pair, the
	// primary keeps its VIP.
	if out, err := p2.hactl("unpair"); err != nil {
		t.Fatalf("unpair: %v\n%s", err, out)
	}
	if st := s2.status(); len(st.Peers) != 0 {
		t.Fatalf("the secondary still has peers after unpair: %+v", st.Peers)
	}
	if st := p2.status(); len(st.Peers) != 0 || !p2.hasAddr(vip) {
		t.Fatalf("primary after unpair: %+v, VIP %v", st.Peers, p2.hasAddr(vip))
	}

	// A broken configuration: exit 78 (do not restart).
	if err := os.WriteFile(p2.cfgPath, []byte(`{"hostname":"-bad"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p2.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p2.proc.Exited()
	bad := p2.ns.Start(binaryPath(t, "hmd"), p2.args...)
	var ee interface{ ExitCode() int }
	if err := bad.Err(); !errors.As(err, &ee) || ee.ExitCode() != 78 {
		t.Fatalf("hmd with a bad configuration: %v, want exit status 78\n%s", err, bad.Output())
	}
}

// restart stops hmd gracefully and starts it again.
func (n *node) restart() {
	n.t.Helper()
	if err := n.proc.Signal(syscall.SIGTERM); err != nil {
		n.t.Fatal(err)
	}
	<-n.proc.Exited()
	n.start()
}
