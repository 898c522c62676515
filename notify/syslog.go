package notify

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/tlsid"
)

// Syslog is the remote syslog collector: RFC 5424 messages over UDP (one
// per datagram), TCP (octet-counted, RFC 6587) or TLS (RFC 5425: the same
// framing inside TLS 1.2 or later).
type Syslog struct {
	// Address is "IP:port".
	Address   string `json:"address"`
	Transport string `json:"transport"` // udp, tcp or tls
	// CA is the PEM certificate(s) the collector's certificate must chain
	// to (TLS only). With a CA the name is checked too: ServerName, or the
	// address's IP when empty.
	CA         string `json:"ca,omitempty"`
	ServerName string `json:"server_name,omitempty"`
	// Fingerprint pins the collector's certificate by its SHA-256 (TLS
	// only): for a collector with a self-signed certificate, or on top of
	// the CA. A TLS collector needs a CA or a fingerprint: an unverified
	// collector would receive every event from anyone who answers.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Validate reports every bad field at once.
func (c Syslog) Validate() error {
	var errs config.ValidationError
	bad := func(field, format string, a ...any) {
		errs = append(errs, &config.FieldError{Field: field, Reason: fmt.Sprintf(format, a...)})
	}
	if ap, err := netip.ParseAddrPort(c.Address); err != nil || ap.Port() == 0 || ap.Addr().IsUnspecified() {
		bad("address", "%q is not IP:port", c.Address)
	}
	switch c.Transport {
	case "udp", "tcp":
		for _, f := range [][2]string{{"ca", c.CA}, {"server_name", c.ServerName}, {"fingerprint", c.Fingerprint}} {
			if f[1] != "" {
				bad(f[0], "applies only to transport tls")
			}
		}
	case "tls":
		if c.CA == "" && c.Fingerprint == "" {
			bad("ca", "a TLS collector needs the CA its certificate is signed by, or its certificate's fingerprint")
		}
		if c.CA != "" {
			if _, err := caPool(c.CA); err != nil {
				bad("ca", "%v", err)
			}
		}
		if c.Fingerprint != "" && !validFingerprint(c.Fingerprint) {
			bad("fingerprint", "must be 64 hexadecimal digits (SHA-256)")
		}
		if len(c.ServerName) > 253 {
			bad("server_name", "longer than a DNS name can be")
		}
	default:
		bad("transport", "%q: want udp, tcp or tls", c.Transport)
	}
	if errs != nil {
		return errs
	}
	return nil
}

// caPool parses the PEM certificates of a collector's CA.
func caPool(pemText string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(pemText)) {
		return nil, errors.New("no PEM certificate in it")
	}
	return pool, nil
}

func validFingerprint(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// tlsConfig is how the client verifies a TLS collector: by its CA and
// name, by its pinned fingerprint, or both.
func (c Syslog) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CA != "" {
		pool, err := caPool(c.CA)
		if err != nil {
			return nil, fmt.Errorf("collector CA: %w", err)
		}
		cfg.RootCAs = pool
		cfg.ServerName = c.ServerName
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(c.Address)
			cfg.ServerName = host
		}
	} else {
		// The pin below is the whole verification; crypto/tls would
		// otherwise insist on a CA.
		cfg.InsecureSkipVerify = true
	}
	if pin := strings.ToLower(c.Fingerprint); pin != "" {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the collector presented no certificate")
			}
			if fp := tlsid.Fingerprint(cs.PeerCertificates[0].Raw); fp != pin {
				return fmt.Errorf("the collector's certificate %s is not the pinned %s", fp, pin)
			}
			return nil
		}
	}
	return cfg, nil
}

// facilityLocal0 is the facility of every message: local0, the one set
// aside for appliances' own use.
const facilityLocal0 = 16

// sdID is the structured data element of hafw's messages, under the
// enterprise number of EnterpriseOID.
const sdID = "hafw@32473"

// Message is one RFC 5424 message.
type Message struct {
	Time     time.Time
	Severity int // RFC 5424 severity, 0..7
	Host     string
	App      string
	MsgID    string
	// Params are the structured data's parameters, in order (name, value).
	Params [][2]string
	Text   string
}

// Format is the message in RFC 5424 syntax.
func (m Message) Format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "<%d>1 %s %s %s %d %s ", facilityLocal0*8+m.Severity, m.Time.UTC().Format("2006-01-02T15:04:05.000000Z"),
		nilValue(m.Host, 255), nilValue(m.App, 48), pid, nilValue(m.MsgID, 32))
	if len(m.Params) == 0 {
		b.WriteString("-")
	} else {
		b.WriteString("[" + sdID)
		for _, p := range m.Params {
			if p[1] != "" {
				fmt.Fprintf(&b, " %s=\"%s\"", p[0], sdEscape.Replace(p[1]))
			}
		}
		b.WriteString("]")
	}
	if m.Text != "" {
		b.WriteString(" " + m.Text)
	}
	return b.String()
}

var sdEscape = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`)

// nilValue is an RFC 5424 header field: printable ASCII without spaces,
// at most max characters, "-" when empty.
func nilValue(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 33 || r > 126 {
			return '_'
		}
		return r
	}, s)
	if s == "" {
		return "-"
	}
	if len(s) > max {
		s = s[:max]
	}
	return s
}

// SyslogClient sends messages to one collector; it redials after a TCP
// failure. It is used from one goroutine at a time.
type SyslogClient struct {
	cfg     Syslog
	timeout time.Duration
	conn    net.Conn
}

// NewSyslogClient prepares a client; it dials on the first Send.
func NewSyslogClient(cfg Syslog, timeout time.Duration) *SyslogClient {
	return &SyslogClient{cfg: cfg, timeout: timeout}
}

// Send writes one message.
func (c *SyslogClient) Send(ctx context.Context, m Message) error {
	if c.conn == nil {
		conn, err := c.dial(ctx)
		if err != nil {
			return fmt.Errorf("syslog collector %s/%s: %w", c.cfg.Address, c.cfg.Transport, err)
		}
		c.conn = conn
	}
	line := m.Format()
	if c.cfg.Transport != "udp" {
		line = strconv.Itoa(len(line)) + " " + line
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
	if _, err := c.conn.Write([]byte(line)); err != nil {
		c.Close()
		return fmt.Errorf("syslog collector %s/%s: %w", c.cfg.Address, c.cfg.Transport, err)
	}
	return nil
}

// dial connects to the collector; over TLS the handshake (and so the
// collector's verification) is done before the first message is written.
func (c *SyslogClient) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: c.timeout}
	if c.cfg.Transport != "tls" {
		return d.DialContext(ctx, c.cfg.Transport, c.cfg.Address)
	}
	cfg, err := c.cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return (&tls.Dialer{NetDialer: &d, Config: cfg}).DialContext(ctx, "tcp", c.cfg.Address)
}

// Close closes the connection.
func (c *SyslogClient) Close() error {
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}

// syslogSink sends events to the collector.
type syslogSink struct {
	cfg    Syslog
	node   string
	client *SyslogClient
}

func newSyslogSink(cfg Syslog, node string, timeout time.Duration) *syslogSink {
	return &syslogSink{cfg: cfg, node: node, client: NewSyslogClient(cfg, timeout)}
}

// EventMessage is e as a syslog message.
func EventMessage(e Event, host string) Message {
	if e.Node != "" {
		host = e.Node
	}
	return Message{Time: e.Time, Severity: e.Severity.Syslog(), Host: host, App: "hmd", MsgID: string(e.Type),
		Params: [][2]string{{"type", string(e.Type)}, {"severity", e.Severity.String()}, {"peer", e.Peer}, {"core", e.Core},
			{"old", e.OldState}, {"new", e.NewState}},
		Text: e.String()}
}

// Send implements Sink.
func (s *syslogSink) Send(ctx context.Context, e Event) error {
	return s.client.Send(ctx, EventMessage(e, s.node))
}

// Close implements Sink.
func (s *syslogSink) Close() error { return s.client.Close() }

// pid is the PROCID of every message.
var pid = os.Getpid()
