package api

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/hafw/hafw/internal/tlsid"
)

// serveLimited runs ServeRemote on a loopback port with a handler that
// answers "ok", and returns the address.
func serveLimited(t *testing.T, lim Limits) string {
	t.Helper()
	return serveRemote(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), lim)
}

// serveRemote runs ServeRemote with h on a loopback port and returns the
// address.
func serveRemote(t *testing.T, h http.Handler, lim Limits) string {
	t.Helper()
	id, err := tlsid.LoadOrCreate(t.TempDir(), "mse1")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := ServeRemote(ln, h, id.ServerTLS(), log.New(io.Discard, "", 0), lim)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// dialFrom opens a bare TCP connection to addr from the loopback address src
// (all of 127/8 is local on Linux, so each stands for another LAN host).
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports whether the server closes c within d: a read ends
// with EOF or a reset rather than the client's own deadline.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

// served opens a TLS connection from src, makes one keep-alive request on
// it and returns it open.
func served(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	conn := tls.Client(dialFrom(t, src, addr), &tls.Config{InsecureSkipVerify: true}) // limits, not identity
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: hmd\r\n\r\n"); err != nil {
		t.Fatalf("request from %s: %v", src, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("request from %s: %v", src, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("request from %s: %s, close %v", src, resp.Status, resp.Close)
	}
	conn.SetDeadline(time.Time{})
	return conn
}

// get makes one request over TLS from src on a fresh connection.
func get(src, addr string) error {
	tr := &http.Transport{
		DialContext:     (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).DialContext,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the test checks limits, not identity
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/", nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && string(body) != "ok" {
		err = errors.New("unexpected answer " + string(body))
	}
	return err
}

// TestIdleConnectionsAreClosed: a connection that never starts its TLS
// handshake, and a keep-alive connection that sends no further request, are
// both closed by the server (they once stayed open forever and exhausted
// hmd's file descriptors).
func TestIdleConnectionsAreClosed(t *testing.T) {
	addr := serveLimited(t, Limits{Read: 300 * time.Millisecond, Idle: 300 * time.Millisecond})

	silent := dialFrom(t, "127.0.0.1", addr)
	if !closedWithin(silent, 10*time.Second) {
		t.Error("a connection that never sent a byte is still open after 10 s (read limit 300 ms)")
	}

	conn := served(t, "127.0.0.1", addr)
	if !closedWithin(conn, 10*time.Second) {
		t.Error("an idle keep-alive connection is still open after 10 s (idle limit 300 ms)")
	}
}

// TestConnectionsPerHostAreCapped: one host cannot hold more than PerHost
// connections, and all hosts together no more than Total; a connection
// beyond a cap is closed at once, and other hosts are still served.
func TestConnectionsPerHostAreCapped(t *testing.T) {
	addr := serveLimited(t, Limits{PerHost: 4, Total: 6, Read: time.Minute})

	var held []net.Conn
	for range 4 {
		held = append(held, dialFrom(t, "127.0.0.1", addr))
	}
	if !closedWithin(dialFrom(t, "127.0.0.1", addr), 10*time.Second) {
		t.Fatal("a fifth idle connection from one host was kept (cap 4 per host)")
	}
	served(t, "127.0.0.2", addr) // another host is served while the first holds its cap
	dialFrom(t, "127.0.0.2", addr)
	if !closedWithin(dialFrom(t, "127.0.0.3", addr), 10*time.Second) {
		t.Fatal("a seventh connection in all was kept (cap 6)")
	}
	// A slot given back is usable again.
	held[0].Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := get("127.0.0.3", addr)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed connection's slot was not given back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
