// Package syslogtest is a minimal RFC 5424 collector for tests: it listens
// on UDP (one message per datagram), TCP (octet counting, RFC 6587) or TLS
// (RFC 5425: the same framing inside TLS, with a certificate of its own CA),
// checks each message's header and keeps it.
package syslogtest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one received message.
type Message struct {
	Pri                     int
	Time, Host, App, MsgID  string
	StructuredData, Message string
}

// header is RFC 5424's HEADER SP STRUCTURED-DATA [SP MSG].
var header = regexp.MustCompile(`^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?[^\\]\])(?: (.*))?$`)

// Parse reads one RFC 5424 message.
func Parse(s string) (Message, error) {
	m := header.FindStringSubmatch(s)
	if m == nil {
		return Message{}, fmt.Errorf("not an RFC 5424 message: %q", s)
	}
	pri, _ := strconv.Atoi(m[1])
	if pri > 191 {
		return Message{}, fmt.Errorf("PRI %d out of range", pri)
	}
	return Message{Pri: pri, Time: m[2], Host: m[3], App: m[4], MsgID: m[6], StructuredData: m[7], Message: m[8]}, nil
}

// Collector is a listening collector.
type Collector struct {
	Addr string
	// CA (PEM) signed a TLS collector's certificate, issued to the
	// listening IP and to ServerName; Fingerprint is that certificate's
	// SHA-256.
	CA, Fingerprint string
	mu              sync.Mutex
	msgs            []Message
	bad             []string
}

// Listen starts a collector on addr ("127.0.0.1:0") over transport (udp,
// tcp or tls) in the calling goroutine's network namespace; it closes with
// the test.
func Listen(t testing.TB, transport, addr string) *Collector {
	t.Helper()
	c := &Collector{}
	switch transport {
	case "udp":
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		c.Addr = pc.LocalAddr().String()
		go func() {
			buf := make([]byte, 64<<10)
			for {
				n, _, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				c.add(string(buf[:n]))
			}
		}()
	case "tcp", "tls":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		if transport == "tls" {
			ln = c.withTLS(t, ln)
		}
		c.Addr = ln.Addr().String()
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				go c.readFramed(conn)
			}
		}()
	default:
		t.Fatalf("syslogtest: transport %q", transport)
	}
	return c
}

// readFramed reads octet-counted messages: "LEN SP MSG".
func (c *Collector) readFramed(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		lenText, err := r.ReadString(' ')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(lenText))
		if err != nil || n <= 0 || n > 64<<10 {
			c.addBad("bad frame length " + lenText)
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		c.add(string(buf))
	}
}

func (c *Collector) add(s string) {
	m, err := Parse(s)
	if err != nil {
		c.addBad(err.Error())
		return
	}
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
}

func (c *Collector) addBad(s string) {
	c.mu.Lock()
	c.bad = append(c.bad, s)
	c.mu.Unlock()
}

// Messages returns what arrived so far, in order.
func (c *Collector) Messages() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.msgs...)
}

// Malformed returns what arrived but was not RFC 5424.
func (c *Collector) Malformed() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.bad...)
}

// ServerName is the DNS name in a TLS collector's certificate.
const ServerName = "collector.test"

// withTLS wraps ln in TLS with a certificate for the listening IP and
// ServerName, signed by a CA made for this collector.
func (c *Collector) withTLS(t testing.TB, ln net.Listener) net.Listener {
	t.Helper()
	ip := ln.Addr().(*net.TCPAddr).IP
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "syslogtest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ServerName},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: []string{ServerName}, IPAddresses: []net.IP{ip},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caTmpl, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	c.CA = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	sum := sha256.Sum256(leafDER)
	c.Fingerprint = hex.EncodeToString(sum[:])
	cert := tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
}
