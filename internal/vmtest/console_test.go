package vmtest

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"
)

func TestConsoleWait(t *testing.T) {
	c := NewConsole()
	re := regexp.MustCompile(`hafw-ready: host=(\S+)`)
	ctx := context.Background()
	never := make(chan struct{})
	go func() {
		c.Write([]byte("booting\r\nhafw-ready: host=mse1 role=none\r\n"))
	}()
	m, err := c.Wait(ctx, re, 0, 5*time.Second, never)
	if err != nil || m[1] != "mse1" {
		t.Fatalf("Wait = %q, %v; want host mse1", m, err)
	}
	// From a mark after the first ready line, only a later one matches.
	mark := c.Len()
	if _, err := c.Wait(ctx, re, mark, 20*time.Millisecond, never); err == nil {
		t.Fatal("matched text before the mark")
	}
	exited := make(chan struct{})
	close(exited)
	if _, err := c.Wait(ctx, re, mark, time.Minute, exited); !errors.Is(err, ErrExited) {
		t.Fatalf("Wait after exit = %v, want ErrExited", err)
	}
	c.Write([]byte("hafw-ready: host=mse2\n"))
	if m, err := c.Wait(ctx, re, mark, time.Minute, exited); err != nil || m[1] != "mse2" {
		t.Fatalf("output before the exit must still match: %q, %v", m, err)
	}
	if got := c.Tail(1); got != "hafw-ready: host=mse2" {
		t.Fatalf("Tail(1) = %q", got)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Wait(cancelled, regexp.MustCompile("never"), 0, time.Minute, never); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a cancelled context = %v", err)
	}
}
