package api

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/tlsid"
)

// clientFrom is an HTTPS client whose connections come from the loopback
// address src (each stands for another LAN host).
func clientFrom(src string) *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		DialContext:     (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).DialContext,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the test checks password limits, not identity
	}}
}

// status is GET /v1/status with the admin password pass; it returns the
// status code and how long the answer took.
func status(t *testing.T, c *http.Client, addr, pass string) (int, time.Duration) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "https://"+addr+"/v1/status", nil)
	req.SetBasicAuth(AdminUser, pass)
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Errorf("GET /v1/status: %v", err)
		return 0, time.Since(start)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	return resp.StatusCode, time.Since(start)
}

// servePassword serves the API with the real password check against hash
// on a loopback port and returns the address.
func servePassword(t *testing.T, hash string) string {
	t.Helper()
	auth := &Password{Hash: func() string { return hash }, Check: config.CheckPassword}
	return serveRemote(t, NewHandler(&recorder{}, auth, slog.New(slog.NewTextHandler(io.Discard, nil))), Limits{})
}

// TestPasswordGuessingDoesNotJamLogins: eight clients on one address keep
// sending wrong passwords (the real PBKDF2 check) while the operator logs
// in from another address. The guesser gets 429 beyond its one check in
// flight, and the operator's login waits for at most about one other
// check, not a queue of the guesser's (before the limit it waited behind
// all eight, 1.3 s on the appliance).
func TestPasswordGuessingDoesNotJamLogins(t *testing.T) {
	hash, err := config.HashPassword("the-right-one")
	if err != nil {
		t.Fatal(err)
	}
	addr := servePassword(t, hash)

	// One check's time on this machine, as loaded as it is now.
	if code, _ := status(t, clientFrom("127.0.0.3"), addr, "warm-up"); code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d, want 401", code)
	}
	code, one := status(t, clientFrom("127.0.0.3"), addr, "wrong")
	if code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d, want 401", code)
	}

	var checked, throttled atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	guesser := clientFrom("127.0.0.1")
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				switch code, _ := status(t, guesser, addr, "guess"); code {
				case http.StatusUnauthorized:
					checked.Add(1)
				case http.StatusTooManyRequests:
					throttled.Add(1)
					time.Sleep(10 * time.Millisecond)
				default:
					t.Errorf("guess answered %d", code)
					return
				}
			}
		}()
	}
	time.Sleep(2 * one) // the guessers are in full swing
	before := checked.Load()
	code, took := status(t, clientFrom("127.0.0.2"), addr, "the-right-one")
	ahead := checked.Load() - before
	close(stop)
	wg.Wait()
	t.Logf("one check %v; operator's login during the guessing %v with %d guesses checked meanwhile; guesses checked %d, refused 429 %d",
		one.Round(time.Millisecond), took.Round(time.Millisecond), ahead, checked.Load(), throttled.Load())
	if code != http.StatusOK {
		t.Fatalf("operator's login: %d, want 200", code)
	}
	if throttled.Load() == 0 {
		t.Error("no guess was refused with 429")
	}
	// At most one guess in flight ahead of it, and perhaps one that won the
	// check's lock as it was released; eight queued guesses would be eight.
	// Counted, not timed: a busy machine stretches every check alike.
	if ahead > 3 {
		t.Errorf("%d guesses were checked while the operator's login waited (%v, one check %v); want at most 3", ahead, took, one)
	}
}

// TestThrottleBackoff: free failures, then a doubling lockout; one check in
// flight per client; a success forgets the client; other clients are
// unaffected.
func TestThrottleBackoff(t *testing.T) {
	var th throttle
	a, b := clientAddr(&http.Request{RemoteAddr: "192.0.2.1:1000"}), clientAddr(&http.Request{RemoteAddr: "192.0.2.2:1000"})
	now := time.Unix(1e9, 0)
	if th.begin(a, now) != 0 {
		t.Fatal("first check refused")
	}
	if th.begin(a, now) == 0 {
		t.Fatal("second concurrent check from one client allowed")
	}
	if th.begin(b, now) != 0 {
		t.Fatal("another client refused")
	}
	th.end(b, false, now)
	th.end(a, false, now)
	for range freeFailures - 1 {
		if th.begin(a, now) != 0 {
			t.Fatal("free failure refused")
		}
		th.end(a, false, now)
	}
	for n, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		if th.begin(a, now) != 0 {
			t.Fatalf("check after lockout %d refused", n)
		}
		th.end(a, false, now)
		if got := th.begin(a, now); got != want {
			t.Fatalf("lockout %d: %v, want %v", n, got, want)
		}
		now = now.Add(want)
	}
	if th.begin(a, now) != 0 {
		t.Fatal("check after lockout refused")
	}
	th.end(a, true, now)
	if th.begin(a, now) != 0 {
		t.Fatal("client not forgotten after a success")
	}
	th.end(a, false, now)
	if lockout(100) != maxLockout {
		t.Fatalf("lockout(100) = %v", lockout(100))
	}
}

// TestPeerChecksHaveTheirOwnLane: console logins from many addresses (no
// client certificate) keep the password check busy; a peer's request,
// which presents its client certificate, waits for none of them.
func TestPeerChecksHaveTheirOwnLane(t *testing.T) {
	hash, err := config.HashPassword("the-right-one")
	if err != nil {
		t.Fatal(err)
	}
	addr := servePassword(t, hash)
	peerID, err := tlsid.LoadOrCreate(t.TempDir(), "mse2")
	if err != nil {
		t.Fatal(err)
	}
	peer := clientFrom("127.0.0.2")
	peer.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{peerID.Cert}

	code, one := status(t, clientFrom("127.0.0.3"), addr, "wrong")
	if code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d, want 401", code)
	}
	var checked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clientFrom(fmt.Sprintf("127.0.1.%d", i+1))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				switch code, _ := status(t, c, addr, fmt.Sprintf("console-%d", n)); code {
				case http.StatusUnauthorized:
					checked.Add(1)
				case http.StatusTooManyRequests:
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(2 * one) // the console logins are queued
	before := checked.Load()
	code, took := status(t, peer, addr, "the-right-one")
	ahead := checked.Load() - before
	close(stop)
	wg.Wait()
	t.Logf("one check %v; the peer's request during 8 console logins %v, with %d console checks done meanwhile", one.Round(time.Millisecond), took.Round(time.Millisecond), ahead)
	if code != http.StatusOK {
		t.Fatalf("peer's request: %d, want 200", code)
	}
	// Its own lane: the peer's check runs beside the console's one at a
	// time, so about one finishes meanwhile; in a shared lane it would
	// wait for the queued ones. Counted, not timed: a busy machine
	// stretches every check alike.
	if ahead > 3 {
		t.Errorf("%d console checks were done while the peer's request waited (%v, one check %v); want at most 3", ahead, took, one)
	}
}
