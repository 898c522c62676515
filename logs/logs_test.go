package logs

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/syslogtest"
	"github.com/hafw/hafw/internal/testenv"
	"github.com/hafw/hafw/notify"
)

// TestForwardsRFC5424: log lines reach a collector over UDP and over TCP
// as valid RFC 5424 messages with the line's severity, and the disk file
// keeps them.
func TestForwardsRFC5424(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			col := syslogtest.Listen(t, transport, "127.0.0.1:0")
			cfg := &notify.Syslog{Address: col.Addr, Transport: transport}
			dir := t.TempDir()
			w := New(Options{App: "hmd", Host: "mse1", Syslog: func() *notify.Syslog { return cfg }})
			defer w.Close()
			if err := w.Start(dir); err != nil {
				t.Fatal(err)
			}
			log := slog.New(slog.NewTextHandler(w, nil))
			log.Info("state change", "peer", "10.0.0.2", "from", "SECONDARY_ACTIVE", "to", "FAILOVER_ACTIVE")
			log.Error("Virtual IP could not be added", "err", "boom")
			netnstest.Eventually(t, 10*time.Second, "two messages at the collector", func() bool { return len(col.Messages()) >= 2 })
			msgs := col.Messages()
			if msgs[0].Pri != 16*8+6 || msgs[0].App != "hmd" || msgs[0].Host != "mse1" || !strings.Contains(msgs[0].Message, "to=FAILOVER_ACTIVE") {
				t.Errorf("first message %+v", msgs[0])
			}
			if msgs[1].Pri != 16*8+3 {
				t.Errorf("an error line has PRI %d, want %d", msgs[1].Pri, 16*8+3)
			}
			if bad := col.Malformed(); len(bad) > 0 {
				t.Errorf("malformed messages: %v", bad)
			}
			netnstest.Eventually(t, 10*time.Second, "the lines on disk", func() bool {
				lines, _ := Tail(dir, "hmd", 10)
				return len(lines) == 2 && strings.Contains(lines[0], "state change")
			})
		})
	}
}

// TestNeverBlocks: a collector that accepts and never reads, and a disk
// that never returns, cannot make Write wait; the lines are dropped and
// counted instead.
func TestNeverBlocks(t *testing.T) {
	hang := make(chan struct{})
	w := New(Options{App: "hmd", Syslog: func() *notify.Syslog {
		<-hang // a collector that hangs
		return nil
	}})
	defer w.Close()
	defer close(hang)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 3 * queueLen {
			fmt.Fprintf(w, "line %d\n", i)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Write blocked behind a hanging collector")
	}
	if d := w.Status().Dropped; d < queueLen {
		t.Errorf("dropped %d lines, want at least %d", d, queueLen)
	}
}

// TestFullPartition: on a full data partition disk logging stops with the
// reason in Status, writes still return at once, and logging resumes when
// there is room again.
func TestFullPartition(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "mount", "umount")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Unavailable(t, fmt.Sprintf("mount tmpfs: %v %s", err, out))
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	complaints := &lockedText{}
	w := New(Options{App: "hmd", Fallback: complaints})
	defer w.Close()
	if err := w.Start(dir); err != nil {
		t.Fatal(err)
	}
	// Fill the partition with something else, as the instance's data would.
	filler := dir + "/filler"
	_ = os.WriteFile(filler, make([]byte, 128<<10), 0o600)
	line := strings.Repeat("x", 200) + "\n"
	start := time.Now()
	for range 200 {
		w.Write([]byte(line))
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("200 writes took %v on a full partition", took)
	}
	netnstest.Eventually(t, 10*time.Second, "the disk error in Status", func() bool {
		return strings.Contains(w.Status().DiskError, "no space left")
	})
	if !strings.Contains(complaints.String(), "logging to") || !strings.Contains(complaints.String(), "keeps serving") {
		t.Errorf("the stop was not said: %q", complaints.String())
	}
	if w.Status().Dropped == 0 {
		t.Error("lost lines are not counted")
	}
}

// lockedText collects the Writer's complaints for a concurrent reader.
type lockedText struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedText) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedText) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestStopReleasesThePartition: once the log file has been written, the
// partition holding it can only be unmounted after Stop (the init agent's
// shutdown unmounts /data last; an open log would leave it busy and dirty).
func TestStopReleasesThePartition(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "mount")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Unavailable(t, fmt.Sprintf("mount tmpfs: %v %s", err, out))
	}
	mounted := true
	t.Cleanup(func() {
		if mounted {
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	w := New(Options{App: "initagent"})
	defer w.Close()
	if err := w.Start(dir); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("level=INFO msg=\"before the shutdown\"\n"))
	netnstest.Eventually(t, 10*time.Second, "the line on disk", func() bool {
		data, _ := os.ReadFile(File(dir, "initagent"))
		return strings.Contains(string(data), "before the shutdown")
	})
	if err := syscall.Unmount(dir, 0); err == nil {
		mounted = false
		t.Fatal("the partition unmounted while the log was open: the test cannot see the difference")
	}
	if err := w.Stop(); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("level=INFO msg=\"after Stop\"\n"))
	if err := syscall.Unmount(dir, 0); err != nil {
		t.Fatalf("unmount after Stop: %v", err)
	}
	mounted = false
}
