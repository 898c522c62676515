package notify

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hafw/hafw/config"
)

// Syslog is the remote syslog collector: RFC 5424 messages over UDP (one
// per datagram) or TCP (octet-counted, RFC 6587).
type Syslog struct {
	// Address is "IP:port".
	Address   string `json:"address"`
	Transport string `json:"transport"` // udp or tcp
}

// Validate reports every bad field at once.
func (c Syslog) Validate() error {
	var errs config.ValidationError
	if ap, err := netip.ParseAddrPort(c.Address); err != nil || ap.Port() == 0 || ap.Addr().IsUnspecified() {
		errs = append(errs, &config.FieldError{Field: "address", Reason: fmt.Sprintf("%q is not IP:port", c.Address)})
	}
	if c.Transport != "udp" && c.Transport != "tcp" {
		errs = append(errs, &config.FieldError{Field: "transport", Reason: fmt.Sprintf("%q: want udp or tcp", c.Transport)})
	}
	if errs != nil {
		return errs
	}
	return nil
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
		d := net.Dialer{Timeout: c.timeout}
		conn, err := d.DialContext(ctx, c.cfg.Transport, c.cfg.Address)
		if err != nil {
			return fmt.Errorf("syslog collector %s/%s: %w", c.cfg.Address, c.cfg.Transport, err)
		}
		c.conn = conn
	}
	line := m.Format()
	if c.cfg.Transport == "tcp" {
		line = strconv.Itoa(len(line)) + " " + line
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
	if _, err := c.conn.Write([]byte(line)); err != nil {
		c.Close()
		return fmt.Errorf("syslog collector %s/%s: %w", c.cfg.Address, c.cfg.Transport, err)
	}
	return nil
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
