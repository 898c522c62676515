package osnet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/beevik/ntp"
	"golang.org/x/sys/unix"
)

// Clock is what TimeSync steps. The system clock implements it; tests pass
// a recorder so they never change the host's time.
type Clock interface {
	Step(offset time.Duration) error
}

// SystemClock steps CLOCK_REALTIME (needs CAP_SYS_TIME).
type SystemClock struct{}

// Step moves the system clock by offset.
func (SystemClock) Step(offset time.Duration) error {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return fmt.Errorf("read system clock: %w", err)
	}
	next := unix.NsecToTimespec(ts.Nano() + offset.Nanoseconds())
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &next); err != nil {
		return fmt.Errorf("set system clock: %w", err)
	}
	return nil
}

// TimeSync sets the clock from NTP servers once, at boot. The seed stresses
// that both nodes of a pair must agree on time; a server that cannot be
// reached is a warning for the caller to log, never a hang: every query is
// bounded by Timeout and all servers are asked at once.
type TimeSync struct {
	// Servers are host names or addresses, optionally with :port.
	Servers []string
	// Timeout bounds each query (default 3 s).
	Timeout time.Duration
	// StepThreshold: offsets smaller than this are reported, not corrected
	// (default 128 ms, ntpd's step threshold).
	StepThreshold time.Duration
	Clock         Clock
}

// NTPResult is the answer of the server that was used.
type NTPResult struct {
	Server  string
	Offset  time.Duration
	RTT     time.Duration
	Stratum uint8
	// Stepped says the clock was corrected by Offset.
	Stepped bool
}

// ErrNoTimeServer means no configured NTP server gave a usable answer.
var ErrNoTimeServer = errors.New("no NTP server reachable")

// Sync queries every server, takes the valid answer with the shortest
// round trip, and steps the clock when the offset exceeds StepThreshold.
func (s TimeSync) Sync(ctx context.Context) (NTPResult, error) {
	if len(s.Servers) == 0 {
		return NTPResult{}, fmt.Errorf("%w: none configured", ErrNoTimeServer)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	if timeout <= 0 {
		return NTPResult{}, fmt.Errorf("query NTP servers: %w", context.DeadlineExceeded)
	}
	type answer struct {
		server string
		resp   *ntp.Response
		err    error
	}
	answers := make(chan answer, len(s.Servers))
	for _, srv := range s.Servers {
		go func() {
			resp, err := ntp.QueryWithOptions(srv, ntp.QueryOptions{Timeout: timeout})
			if err == nil {
				err = resp.Validate()
			}
			answers <- answer{srv, resp, err}
		}()
	}
	var best *answer
	var errs []error
	for range s.Servers {
		a := <-answers
		if a.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.server, a.err))
			continue
		}
		if best == nil || a.resp.RTT < best.resp.RTT {
			best = &a
		}
	}
	if best == nil {
		return NTPResult{}, fmt.Errorf("%w: %w", ErrNoTimeServer, errors.Join(errs...))
	}
	res := NTPResult{Server: best.server, Offset: best.resp.ClockOffset, RTT: best.resp.RTT, Stratum: best.resp.Stratum}
	threshold := s.StepThreshold
	if threshold <= 0 {
		threshold = 128 * time.Millisecond
	}
	if res.Offset.Abs() >= threshold {
		if s.Clock == nil {
			return res, errors.New("step clock: no clock configured")
		}
		if err := s.Clock.Step(res.Offset); err != nil {
			return res, fmt.Errorf("step clock by %v from %s: %w", res.Offset, res.Server, err)
		}
		res.Stepped = true
	}
	return res, nil
}
