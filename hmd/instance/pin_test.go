package instance

import (
	"crypto/tls"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/store"
	"github.com/hafw/hafw/internal/tlsid"
)

// TestUnpairedPeerCannotResumeReplicationSession: a primary that was paired
// for a slot connects once (and would keep a session ticket), is unpaired,
// and connects again offering its old session. The listener, which lives
// across pairings, must refuse it: the pin is checked on every handshake.
func TestUnpairedPeerCannotResumeReplicationSession(t *testing.T) {
	dir := t.TempDir()
	self, err := tlsid.LoadOrCreate(dir+"/self", "standby")
	if err != nil {
		t.Fatal(err)
	}
	old, err := tlsid.LoadOrCreate(dir+"/old", "old-primary")
	if err != nil {
		t.Fatal(err)
	}
	var paired atomic.Bool
	paired.Store(true)
	s, err := NewService(ServiceOptions{Dir: dir, Socket: dir + "/sock", Identity: self, Mode: "maximum-availability",
		Peers: func() ([]store.PeerConfig, error) {
			if !paired.Load() {
				return nil, nil
			}
			return []store.PeerConfig{{InstanceSlot: 1, Fingerprint: old.Fingerprint}}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := tls.NewListener(raw, s.serverTLS(1))
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				if c.(*tls.Conn).Handshake() == nil {
					c.Write([]byte{1})
					io.Copy(io.Discard, c)
				}
			}()
		}
	}()
	client := &tls.Config{Certificates: []tls.Certificate{old.Cert}, MinVersion: tls.VersionTLS13,
		InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	connect := func() (resumed bool, err error) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", raw.Addr().String(), client)
		if err != nil {
			return false, err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		// TLS 1.3 reports a refused client certificate (and delivers
		// tickets) with the server's first record.
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			return c.ConnectionState().DidResume, err
		}
		return c.ConnectionState().DidResume, nil
	}
	if _, err := connect(); err != nil {
		t.Fatalf("the paired primary was refused: %v", err)
	}
	paired.Store(false)
	if resumed, err := connect(); err == nil {
		t.Fatalf("the unpaired primary was accepted again (resumed session: %v)", resumed)
	}
}
