package osnet

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// ntpEpochOffset is the number of seconds from 1900 (NTP) to 1970 (Unix).
const ntpEpochOffset = 2208988800

func ntpTimestamp(t time.Time) uint64 {
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

// ntpResponder is a minimal NTPv4 server on loopback whose clock runs
// offset ahead of ours. It answers every request, or none when silent.
func ntpResponder(t *testing.T, offset time.Duration, silent bool) string {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { conn.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 512)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if silent || n < 48 {
				continue
			}
			now := time.Now().Add(offset)
			resp := make([]byte, 48)
			resp[0] = 0<<6 | 4<<3 | 4 // no leap warning, version 4, server mode
			resp[1] = 2               // stratum
			resp[2] = 6               // poll
			resp[3] = 0xec            // precision 2^-20
			binary.BigEndian.PutUint32(resp[8:], 0x00000100)
			copy(resp[12:16], "TEST")
			binary.BigEndian.PutUint64(resp[16:], ntpTimestamp(now.Add(-time.Second)))
			copy(resp[24:32], buf[40:48]) // origin = the client's transmit time
			binary.BigEndian.PutUint64(resp[32:], ntpTimestamp(now))
			binary.BigEndian.PutUint64(resp[40:], ntpTimestamp(time.Now().Add(offset)))
			if _, err := conn.WriteTo(resp, from); err != nil {
				return
			}
		}
	}()
	return conn.LocalAddr().String()
}

// stepRecorder is a Clock that records steps instead of changing the host's time.
type stepRecorder struct{ steps []time.Duration }

func (r *stepRecorder) Step(d time.Duration) error {
	r.steps = append(r.steps, d)
	return nil
}

func near(got, want, tolerance time.Duration) bool { return (got - want).Abs() <= tolerance }

func TestTimeSyncStepsTheClock(t *testing.T) {
	clock := &stepRecorder{}
	srv := ntpResponder(t, 5*time.Second, false)
	res, err := TimeSync{Servers: []string{srv}, Timeout: time.Second, Clock: clock}.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !near(res.Offset, 5*time.Second, 100*time.Millisecond) || !res.Stepped || res.Server != srv || res.Stratum != 2 {
		t.Fatalf("result %+v", res)
	}
	if len(clock.steps) != 1 || clock.steps[0] != res.Offset {
		t.Fatalf("clock steps %v, want one of %v", clock.steps, res.Offset)
	}
}

func TestTimeSyncSmallOffsetOnlyReported(t *testing.T) {
	clock := &stepRecorder{}
	srv := ntpResponder(t, 20*time.Millisecond, false)
	res, err := TimeSync{Servers: []string{srv}, Timeout: time.Second, Clock: clock}.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Stepped || len(clock.steps) != 0 || !near(res.Offset, 20*time.Millisecond, 15*time.Millisecond) {
		t.Fatalf("result %+v, steps %v", res, clock.steps)
	}
}

// TestTimeSyncUnreachable: a server that never answers is an error the
// caller logs as a warning, after the timeout and not later.
func TestTimeSyncUnreachable(t *testing.T) {
	clock := &stepRecorder{}
	silent := ntpResponder(t, 0, true)
	start := time.Now()
	_, err := TimeSync{Servers: []string{silent}, Timeout: 300 * time.Millisecond, Clock: clock}.Sync(context.Background())
	if !errors.Is(err, ErrNoTimeServer) {
		t.Fatalf("want ErrNoTimeServer, got %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("unreachable server took %v with a 300 ms timeout", took)
	}
	// The context's deadline is honoured when it is shorter than Timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := (TimeSync{Servers: []string{silent}, Timeout: time.Minute, Clock: clock}).Sync(ctx); !errors.Is(err, ErrNoTimeServer) {
		t.Fatalf("want ErrNoTimeServer, got %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("ignored the context deadline: took %v", took)
	}
	if _, err := (TimeSync{Clock: clock}).Sync(context.Background()); !errors.Is(err, ErrNoTimeServer) {
		t.Fatalf("no servers: %v", err)
	}
	if len(clock.steps) != 0 {
		t.Fatalf("clock stepped without a server: %v", clock.steps)
	}
}

// TestTimeSyncUsesTheServerThatAnswers mixes a silent and a working server.
func TestTimeSyncUsesTheServerThatAnswers(t *testing.T) {
	clock := &stepRecorder{}
	good := ntpResponder(t, -3*time.Second, false)
	res, err := TimeSync{Servers: []string{ntpResponder(t, 0, true), good}, Timeout: 300 * time.Millisecond, Clock: clock}.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Server != good || !near(res.Offset, -3*time.Second, 100*time.Millisecond) || len(clock.steps) != 1 {
		t.Fatalf("result %+v steps %v", res, clock.steps)
	}
}
