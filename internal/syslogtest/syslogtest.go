// Package syslogtest is a minimal RFC 5424 collector for tests: it listens
// on UDP (one message per datagram) or TCP (octet counting, RFC 6587),
// checks each message's header and keeps it.
package syslogtest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
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
	mu   sync.Mutex
	msgs []Message
	bad  []string
}

// Listen starts a collector on addr ("127.0.0.1:0") over transport (udp
// or tcp) in the calling goroutine's network namespace; it closes with
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
	case "tcp":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
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
