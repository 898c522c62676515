package hmdtest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/daemon"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
)

// peerBlock is gethainfo's configuration of the first peer without the
// live lines (heartbeats, state), for comparing configurations.
func peerBlock(out string) string {
	_, block, ok := strings.Cut(out, "Peer configuration#: 1")
	if !ok {
		return ""
	}
	var keep []string
	for _, l := range strings.Split(block, "\n") {
		if !strings.HasPrefix(l, "Heartbeat status:") && !strings.HasPrefix(l, "Current state:") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// TestRecoveryRestoresPrimaryFromSecondary: a primary dies (kill -9), its
// secondary takes over, and the primary comes back with an empty state
// directory in recovery mode. The restore from the secondary (hactl
// recover) is refused for the wrong password, for a primary the secondary
// does not back, and for a primary not in recovery mode; with the right
// password the primary gets its pairing back, rejoins TERMINATED without
// touching the VIP, fails back, and shows the configuration it had before.
func TestRecoveryRestoresPrimaryFromSecondary(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l, p, s := newPair(t, "10.243.0", nil)
	vip := l.addr(10)
	before := peerBlock(p.gethainfo())
	if before == "" {
		t.Fatalf("primary's gethainfo has no peer block:\n%s", p.gethainfo())
	}

	recoverFrom := func(primary, pw string) (string, error) {
		// These restores are refused by the primary's side whatever its
		// certificate: trusted on first use in so many words.
		return s.hactl("recover", "--primary", primary, "--primary-password", pw, "--trust-on-first-use")
	}
	// A primary that is not in recovery mode refuses, and keeps its pair.
	if out, err := recoverFrom(p.hip.String(), password); err == nil || !strings.Contains(out, "not in recovery mode") {
		t.Fatalf("recover onto a running primary: err %v, output %q", err, out)
	}
	// The secondary backs no primary at .9.
	if out, err := recoverFrom(l.addr(9).String(), password); err == nil || !strings.Contains(out, "holds no pairing for the primary "+l.addr(9).String()) {
		t.Fatalf("recover of an unknown primary: err %v, output %q", err, out)
	}
	p.waitState(0, "PRIMARY_ACTIVE", time.Second)

	// The primary's hmd dies and its data partition is lost; its kernel
	// keeps the VIP, which the restarted hmd must remove.
	p.crash(l)
	s.waitState(0, "FAILOVER_ACTIVE", 10*time.Second)
	if err := os.RemoveAll(p.stateDir); err != nil {
		t.Fatal(err)
	}
	l.br.SetPort(p.port, true)
	p.args = append(p.args, "--recovery")
	p.start()
	if st := p.status(); st.Role != "none" || len(st.Peers) != 0 {
		t.Fatalf("in recovery mode the primary must have no role and no peers: %+v", st)
	}
	if p.hasAddr(vip) {
		t.Fatal("in recovery mode the primary must not keep the VIP it had before the crash")
	}

	if out, err := recoverFrom(p.hip.String(), "wrong-password"); err == nil || !strings.Contains(out, "the primary refused the password") {
		t.Fatalf("recover with a wrong password: err %v, output %q", err, out)
	}
	if st := p.status(); st.Role != "none" || len(st.Peers) != 0 {
		t.Fatalf("a refused restore changed the primary: %+v", st)
	}

	out, err := recoverFrom(p.hip.String(), password)
	if err != nil || !strings.Contains(out, "Configuration restored to the primary") {
		t.Fatalf("hactl recover: err %v, output %q\nsecondary:\n%s\nprimary:\n%s", err, out, s.proc.Output(), p.proc.Output())
	}
	t.Logf("hactl recover: %s", strings.TrimSpace(out))
	p.waitState(0, "TERMINATED", 10*time.Second)
	time.Sleep(time.Second) // long enough for a wrong claim to show
	if p.hasAddr(vip) || !s.hasAddr(vip) {
		t.Fatalf("a restored primary must leave the VIP to the serving secondary (primary %v, secondary %v)", p.hasAddr(vip), s.hasAddr(vip))
	}
	s.waitState(0, "FAILOVER_ACTIVE", time.Second)

	// Failback through the existing path.
	if out, err := s.hactl("failback", "--force"); err != nil {
		t.Fatalf("hactl failback --force: %v\n%s", err, out)
	}
	p.waitState(0, "PRIMARY_ACTIVE", 15*time.Second)
	s.waitState(0, "SECONDARY_ACTIVE", 15*time.Second)
	netnstest.Eventually(t, 5*time.Second, "VIP back on the primary only", func() bool { return p.hasAddr(vip) && !s.hasAddr(vip) })
	info := p.gethainfo()
	if after := peerBlock(info); after != before {
		t.Errorf("restored configuration differs:\nbefore:%s\nafter:%s", before, after)
	}
	if !strings.Contains(info, "Server role: Primary") || !strings.Contains(info, "Virtual IP Address: "+vip.String()) {
		t.Errorf("the restored primary's base configuration:\n%s", info)
	}
	for _, c := range []struct {
		n    *node
		want string
	}{{p, daemon.MsgRestoredFromSecondary}, {s, daemon.MsgRestoredToPrimary}} {
		if evs, err := c.n.hactl("events", "--limit", "0"); err != nil || !strings.Contains(evs, c.want) {
			t.Errorf("%s's events lack %q (err %v):\n%s", c.n.name, c.want, err, evs)
		}
	}

	// A supervisor that restarts hmd with --recovery still set must not
	// throw the restored pairing away.
	p.restart()
	p.waitState(0, "PRIMARY_ACTIVE", 10*time.Second)
}

// TestRecoveryDataFlowsBackOnFailback: the recovering primary lost its
// instance database too. After the restore, the ordinary failback copies
// the secondary's data back: every write acknowledged before the crash and
// while the secondary served is there, and both databases end identical.
func TestRecoveryDataFlowsBackOnFailback(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l, p, s := replicatedPair(t, "10.245.0")
	vip := l.addr(10)

	w := newWriter(l, vip)
	for range 40 {
		if err := w.write(); err != nil {
			t.Fatalf("a write on the primary failed: %v", err)
		}
	}
	p.kill(l)
	s.waitState(0, "FAILOVER_ACTIVE", 10*time.Second)
	for range 30 {
		if err := w.write(); err != nil {
			t.Fatalf("a write on the serving secondary failed: %v", err)
		}
	}
	// The data partition is gone: state and instance databases.
	for _, dir := range []string{p.stateDir, filepath.Join(p.dir, "instance")} {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	l.br.SetPort(p.port, true)
	p.args = append(p.args, "--recovery")
	p.start()
	// Without the recovering primary's certificate nothing is restored;
	// the answer shows the one it presents, as its status does.
	fp := p.status().CertFingerprint
	if out, err := s.hactl("recover", "--primary", p.hip.String(), "--primary-password", password); err == nil || !strings.Contains(out, "presents "+fp) {
		t.Fatalf("hactl recover without a pin: err %v, output %q (the primary's certificate is %s)", err, out, fp)
	}
	if out, err := s.hactl("recover", "--primary", p.hip.String(), "--primary-password", password, "--fingerprint", fp); err != nil {
		t.Fatalf("hactl recover: %v\n%s", err, out)
	}
	p.waitState(0, "TERMINATED", 10*time.Second)
	waitTrue(t, 10*time.Second, "the secondary to hear the primary", func() bool { return s.status().Peers[0].Heartbeat == "Up" })
	if out, err := s.hactl("failback", "--force"); err != nil {
		t.Fatalf("hactl failback --force: %v\n%s", err, out)
	}
	p.waitState(0, "PRIMARY_ACTIVE", 20*time.Second)
	s.waitState(0, "SECONDARY_ACTIVE", 10*time.Second)
	if got := w.verify(t); got != 70 {
		t.Errorf("after recovery and failback %d elements are served, want 70", got)
	}
	waitTrue(t, 10*time.Second, "replication Up after failback", func() bool { return p.replication() == "Up" })
	slot := p.status().Peers[0].InstanceDBPort - 1621
	for _, x := range []*node{p, s} {
		x.proc.Signal(syscall.SIGTERM)
		<-x.proc.Exited()
	}
	if dp, ds := first(p.digest(slot)), first(s.digest(slot)); dp != ds {
		t.Fatalf("databases differ after failback: primary %s, secondary %s", dp, ds)
	}
}

func first[A, B any](a A, _ B) A { return a }
