package board

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDeviceProtocol checks the bytes a Device writes, against a plain file
// standing in for /dev/watchdog (opening a real one arms a reboot timer on
// the test machine): keep-alive bytes that are not 'V', then the magic 'V'.
func TestDeviceProtocol(t *testing.T) {
	path := filepath.Join(t.TempDir(), "watchdog")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := OpenWatchdog(path)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := d.Ping(); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "\x00\x00V" {
		t.Fatalf("device saw %q, want two pings and the magic V", got)
	}
	if err := d.Ping(); err == nil {
		t.Fatal("ping after close succeeded")
	}
	if _, err := OpenWatchdog(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Fatal("opening a missing device succeeded")
	}
}

// countingWatchdog is a fake for Keepalive's loop logic only.
type countingWatchdog struct {
	pings  int
	failAt int
	onPing func(n int)
}

func (c *countingWatchdog) Ping() error {
	c.pings++
	if c.onPing != nil {
		c.onPing(c.pings)
	}
	if c.pings == c.failAt {
		return errors.New("device gone")
	}
	return nil
}

func (c *countingWatchdog) Close() error { return nil }

func TestKeepalive(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &countingWatchdog{onPing: func(n int) {
		if n == 3 {
			cancel()
		}
	}}
	if err := Keepalive(ctx, w, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if w.pings != 3 {
		t.Fatalf("pinged %d times, want 3 (stop after cancel)", w.pings)
	}
	w = &countingWatchdog{failAt: 2}
	if err := Keepalive(context.Background(), w, time.Millisecond); err == nil || w.pings != 2 {
		t.Fatalf("failing ping: err %v after %d pings", err, w.pings)
	}
}
