package api

import (
	"crypto/tls"
	"log"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Limits bound what unauthenticated clients can hold open on the remote
// API's listener. Anyone on the appliance LAN can connect before proving
// anything, so every connection must end on its own and no one host may
// take more than its share: otherwise idle connections use up hmd's file
// descriptors and the next state write fails.
type Limits struct {
	// Read bounds the TLS handshake and reading a whole request, body
	// included (10 s when zero). Request bodies are small (MaxBody).
	Read time.Duration
	// Write bounds a request from the end of its headers to the end of
	// its answer (2 min when zero): it ends a client that never reads its
	// answer. It must outlast the slowest handler, pairing, which calls the
	// peer's API a few times, each call bounded by hmd's 30 s remote timeout
	// (the peer checks a PBKDF2 password); an answer written after it is
	// lost. No route streams.
	Write time.Duration
	// Idle is how long a keep-alive connection may wait for its next
	// request (30 s when zero).
	Idle time.Duration
	// PerHost caps the connections open from one source address (16 when
	// zero): a browser opens about six, hactl and the peer's hmd a few.
	PerHost int
	// Total caps all connections (512 when zero), far below hmd's file
	// descriptor limit, so that a LAN of many hosts cannot exhaust it either.
	Total int
}

func (l Limits) withDefaults() Limits {
	if l.Read <= 0 {
		l.Read = 10 * time.Second
	}
	if l.Write <= 0 {
		l.Write = 2 * time.Minute
	}
	if l.Idle <= 0 {
		l.Idle = 30 * time.Second
	}
	if l.PerHost <= 0 {
		l.PerHost = 16
	}
	if l.Total <= 0 {
		l.Total = 512
	}
	return l
}

// ServeRemote serves handler over TLS on ln with the limits applied: the
// connection caps on the listener, before the handshake, and the timeouts
// on the server. It returns the server for Shutdown; Serve runs in its own
// goroutine.
func ServeRemote(ln net.Listener, handler http.Handler, tlsConfig *tls.Config, errLog *log.Logger, lim Limits) *http.Server {
	lim = lim.withDefaults()
	srv := &http.Server{
		Handler:           handler,
		ErrorLog:          errLog,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: lim.Read,
		ReadTimeout:       lim.Read,
		WriteTimeout:      lim.Write,
		IdleTimeout:       lim.Idle,
	}
	capped := &capListener{Listener: ln, perHost: lim.PerHost, total: lim.Total, open: map[netip.Addr]int{}}
	go srv.Serve(tls.NewListener(capped, tlsConfig))
	return srv
}

// capListener closes connections beyond its caps as soon as they are
// accepted, so that they cost a file descriptor for an instant only.
type capListener struct {
	net.Listener
	perHost, total int

	mu   sync.Mutex
	all  int
	open map[netip.Addr]int
}

// Accept returns the next connection within the caps; connections beyond
// them are closed and not returned.
func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := remoteHost(c)
		if !l.admit(host) {
			c.Close()
			continue
		}
		return &cappedConn{Conn: c, release: func() { l.release(host) }}, nil
	}
}

func (l *capListener) admit(host netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.all >= l.total || l.open[host] >= l.perHost {
		return false
	}
	l.all++
	l.open[host]++
	return true
}

func (l *capListener) release(host netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all--
	if l.open[host]--; l.open[host] <= 0 {
		delete(l.open, host)
	}
}

// remoteHost is the connection's source address, IPv4-mapped IPv6 folded so
// that one host is counted once.
func remoteHost(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// cappedConn gives its slot back when it is closed, once.
type cappedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
