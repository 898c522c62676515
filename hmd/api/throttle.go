package api

import (
	"net/netip"
	"sync"
	"time"
)

// Password guessing is bounded per client address: a client has at most one
// password check in flight, its first freeFailures wrong passwords cost
// nothing more, and each further one locks it out for a doubling time (1 s,
// 2 s, … up to maxLockout). A success forgets the client. Without this, a
// few clients sending wrong passwords kept the one PBKDF2 check busy and
// the operator's own login waited behind all of them.
const (
	freeFailures = 3
	maxLockout   = 5 * time.Minute
	// forgetAfter is how long a client's failures are remembered after its
	// last one.
	forgetAfter = 15 * time.Minute
	// maxTracked bounds the table; beyond it, forgotten clients are pruned
	// first and, if none is, the check is refused like a lockout.
	maxTracked = 4096
)

// throttle is the per-client state of password checks.
type throttle struct {
	mu      sync.Mutex
	clients map[netip.Addr]*guesser
}

type guesser struct {
	busy     bool      // a check is in flight
	failures int       // wrong passwords since the last success
	last     time.Time // of the last failure
	until    time.Time // locked out until
}

// begin reserves a password check for client at now, or returns how long
// the client must wait.
func (t *throttle) begin(client netip.Addr, now time.Time) (retryAfter time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.clients == nil {
		t.clients = map[netip.Addr]*guesser{}
	}
	g := t.clients[client]
	if g == nil {
		if len(t.clients) >= maxTracked {
			t.prune(now)
			if len(t.clients) >= maxTracked {
				return time.Second
			}
		}
		g = &guesser{}
		t.clients[client] = g
	}
	if !g.busy && now.Sub(g.last) > forgetAfter {
		g.failures = 0
	}
	switch {
	case g.busy:
		return time.Second
	case now.Before(g.until):
		return g.until.Sub(now)
	}
	g.busy = true
	return 0
}

// end records the outcome of the check begin reserved.
func (t *throttle) end(client netip.Addr, good bool, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.clients[client]
	if g == nil {
		return
	}
	g.busy = false
	if good {
		delete(t.clients, client)
		return
	}
	g.failures++
	g.last = now
	if n := g.failures - freeFailures; n > 0 {
		g.until = now.Add(lockout(n))
	}
}

// lockout is the wait after the nth failure beyond the free ones.
func lockout(n int) time.Duration {
	if n > 20 {
		return maxLockout
	}
	return min(time.Second<<(n-1), maxLockout)
}

// prune drops clients with nothing in flight, no lockout running and no
// failure within forgetAfter.
func (t *throttle) prune(now time.Time) {
	for a, g := range t.clients {
		if !g.busy && !now.Before(g.until) && now.Sub(g.last) > forgetAfter {
			delete(t.clients, a)
		}
	}
}
