package hmdtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/syslogtest"
	"github.com/hafw/hafw/internal/testenv"
)

// TestSyslogAndFullPartition: the secondary's data partition (its log
// directory, a 64 KiB tmpfs) is full, and its logs go to an RFC 5424
// collector over TCP, the primary's over UDP. A failover still happens;
// the collector receives the secondary's failover lines; the secondary
// says its disk logging stopped; and the primary's log file on its data
// partition holds its lines. Then the secondary moves to a TLS collector
// (RFC 5425) verified by its CA and name, which receives its lines.
func TestSyslogAndFullPartition(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	testenv.RequireCommand(t, "mount")
	var tcp, udp, tlsCol *syslogtest.Collector
	l, p, s := newPair(t, "10.253.0", func(l *lan, p, s *node) {
		serveNames(l, p, s)
		l.client.MustDo(func() error {
			tcp = syslogtest.Listen(t, "tcp", l.addr(1).String()+":5514")
			udp = syslogtest.Listen(t, "udp", l.addr(1).String()+":5514")
			tlsCol = syslogtest.Listen(t, "tls", l.addr(1).String()+":6514")
			return nil
		})
		logDir := filepath.Join(s.dir, "logs")
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", logDir).CombinedOutput(); err != nil {
			t.Fatalf("mount tmpfs: %v %s", err, out)
		}
		t.Cleanup(func() { _ = syscall.Unmount(logDir, syscall.MNT_DETACH) })
		_ = os.WriteFile(filepath.Join(logDir, "filler"), make([]byte, 128<<10), 0o600)
		s.restart()
		for n, args := range map[*node][]string{s: {"--transport", "tcp"}, p: {"--transport", "udp"}} {
			if out, err := n.hactl(append([]string{"syslog", "set", "--address", l.addr(1).String() + ":5514"}, args...)...); err != nil {
				t.Fatalf("hactl syslog set on %s: %v\n%s", n.name, err, out)
			}
		}
		if out, err := s.hactl("syslog", "set", "--address", "not-an-address"); err == nil || !strings.Contains(out, "address") {
			t.Fatalf("a malformed collector was accepted: %v\n%s", err, out)
		}
	})
	p.kill(l)
	s.waitState(0, "FAILOVER_ACTIVE", 15*time.Second)
	netnstest.Eventually(t, 20*time.Second, "the secondary's failover lines at the collector", func() bool {
		var got []string
		for _, m := range tcp.Messages() {
			if m.App == "hmd" && strings.Contains(m.Message, `msg="state change"`) {
				got = append(got, m.Message)
			}
		}
		return subsequence(stateTargets(got), []string{"FAILOVER_INVOKED", "FAILOVER_ACTIVE"})
	})
	if bad := tcp.Malformed(); len(bad) > 0 {
		t.Errorf("malformed syslog messages: %v", bad)
	}
	if len(udp.Messages()) == 0 {
		t.Error("the primary's UDP syslog sent nothing")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lv, err := s.api().Logs(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(lv.Status.DiskError, "no space left") {
		t.Errorf("the secondary does not say its disk logging stopped: %+v", lv.Status)
	}
	// The primary (killed now) kept its lines on its data partition.
	data, err := os.ReadFile(filepath.Join(p.dir, "logs", "hmd.log"))
	if err != nil || !strings.Contains(string(data), `msg="hmd ready"`) {
		t.Errorf("primary's log file: %v\n%s", err, data)
	}

	ca := filepath.Join(t.TempDir(), "collector-ca.pem")
	if err := os.WriteFile(ca, []byte(tlsCol.CA), 0o644); err != nil {
		t.Fatal(err)
	}
	tlsArgs := []string{"syslog", "set", "--address", l.addr(1).String() + ":6514", "--transport", "tls", "--ca", ca}
	if out, err := s.hactl(append(tlsArgs, "--server-name", "impostor.test")...); err != nil {
		t.Fatalf("hactl syslog set (tls, wrong name): %v\n%s", err, out)
	}
	netnstest.Eventually(t, 20*time.Second, "the secondary to report the collector's name mismatch", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		lv, err := s.api().Logs(ctx, 1)
		return err == nil && strings.Contains(lv.Status.SyslogError, "impostor.test")
	})
	if out, err := s.hactl(append(tlsArgs, "--server-name", syslogtest.ServerName)...); err != nil {
		t.Fatalf("hactl syslog set (tls): %v\n%s", err, out)
	}
	netnstest.Eventually(t, 20*time.Second, "the secondary's lines at the TLS collector", func() bool {
		for _, m := range tlsCol.Messages() {
			if m.App == "hmd" && strings.Contains(m.Message, `msg="syslog collector set"`) && strings.Contains(m.Message, "transport=tls") {
				return true
			}
		}
		return false
	})
	if out, err := s.hactl("syslog", "show"); err != nil || !strings.Contains(out, "verified by its CA, name "+syslogtest.ServerName) {
		t.Errorf("hactl syslog show: %v\n%s", err, out)
	}
	if bad := tlsCol.Malformed(); len(bad) > 0 {
		t.Errorf("malformed syslog messages over TLS: %v", bad)
	}
	if t.Failed() {
		fmt.Println(s.proc.Output())
	}
}

// stateTargets picks "to=STATE" out of state-change lines.
func stateTargets(lines []string) []string {
	var out []string
	for _, l := range lines {
		if m := stateChangeRE.FindStringSubmatch(l + " "); m != nil {
			out = append(out, m[2])
		}
	}
	return out
}
