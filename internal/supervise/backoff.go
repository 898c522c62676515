package supervise

import "time"

// Backoff is the restart delay policy: the n-th consecutive failure waits
// Initial·2^(n-1), capped at Max. A child that stayed up for Stable counts
// as healthy again and its next failure starts from Initial (0: never).
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	Stable  time.Duration
}

// DefaultBackoff restarts after 1 s, 2 s, 4 s … up to one minute; ten
// minutes of uptime forgives earlier crashes.
func DefaultBackoff() Backoff {
	return Backoff{Initial: time.Second, Max: time.Minute, Stable: 10 * time.Minute}
}

// Delay is the wait before restart after the given number of consecutive
// failures (1 for the first).
func (b Backoff) Delay(failures int) time.Duration {
	if failures < 1 {
		failures = 1
	}
	d := b.Initial
	for i := 1; i < failures; i++ {
		d *= 2
		if d >= b.Max {
			return b.Max
		}
	}
	return min(d, b.Max)
}
