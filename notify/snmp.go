package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"
)

// EnterpriseOID is the enterprise arc HAFW-MIB lives under:
// enterprises.32473, the number IANA reserves for documentation and
// examples (RFC 5612). It is a placeholder: a vendor shipping hafw
// replaces it with its own IANA Private Enterprise Number here and in
// dist/mib/HAFW-MIB.txt.
const EnterpriseOID = "1.3.6.1.4.1.32473"

// The OIDs of HAFW-MIB (dist/mib/HAFW-MIB.txt).
const (
	MIBOID          = EnterpriseOID + ".1"
	NotificationOID = MIBOID + ".0"
	eventOID        = MIBOID + ".1.1"

	oidSysUpTime   = "1.3.6.1.2.1.1.3.0"
	oidSnmpTrapOID = "1.3.6.1.6.3.1.1.4.1.0"
)

// NotificationOIDOf is the OID of t's notification.
func NotificationOIDOf(t Type) string {
	return NotificationOID + "." + strconv.Itoa(slices.Index(Types(), t)+1)
}

// varbinds are an event's objects, in the order of the MIB's OBJECTS
// clause.
func varbinds(e Event) []gosnmp.SnmpPDU {
	str := func(arc int, v string) gosnmp.SnmpPDU {
		if len(v) > 255 {
			v = v[:255]
		}
		return gosnmp.SnmpPDU{Name: eventOID + "." + strconv.Itoa(arc) + ".0", Type: gosnmp.OctetString, Value: v}
	}
	return []gosnmp.SnmpPDU{
		{Name: eventOID + ".1.0", Type: gosnmp.Integer, Value: int(e.Severity)},
		str(2, e.Node), str(3, e.Peer), str(4, e.Core), str(5, e.OldState), str(6, e.NewState), str(7, e.Text), str(8, e.Reason),
	}
}

// Engine is this appliance's SNMPv3 engine as the sender of traps (the
// authoritative side of a v3 trap): receivers configure their user for
// this engine ID. Boots must grow with every start, or receivers that
// remember the engine's clock refuse its traps as replays.
type Engine struct {
	ID    []byte
	Boots uint32
	Start time.Time
}

// snmpSink sends to one destination. Its GoSNMP is owned by the outlet's
// goroutine (or by one Test call).
type snmpSink struct {
	dest    Destination
	engine  Engine
	timeout time.Duration
	retries int
	uptime  func() uint32
	conn    *gosnmp.GoSNMP
}

// InformRetries is how often an unacknowledged inform is sent again.
const InformRetries = 3

func newSNMPSink(d Destination, eng Engine, timeout time.Duration) *snmpSink {
	return &snmpSink{dest: d, engine: eng, timeout: timeout, retries: InformRetries,
		uptime: func() uint32 { return uint32(time.Since(eng.Start) / (10 * time.Millisecond)) }}
}

func (s *snmpSink) connect() (*gosnmp.GoSNMP, error) {
	if s.conn != nil {
		return s.conn, nil
	}
	ap, err := s.dest.AddrPort()
	if err != nil {
		return nil, err
	}
	g := &gosnmp.GoSNMP{
		Target: ap.Addr().String(), Port: ap.Port(), Transport: "udp",
		Timeout: s.timeout, Retries: s.retries, MaxOids: gosnmp.MaxOids,
	}
	switch s.dest.Version {
	case V2c:
		g.Version, g.Community = gosnmp.Version2c, s.dest.Community
	case V3:
		auth := gosnmp.SHA
		if s.dest.AuthProtocol == AuthSHA256 {
			auth = gosnmp.SHA256
		}
		priv := gosnmp.AES
		if s.dest.PrivProtocol == PrivAES256 {
			priv = gosnmp.AES256
		}
		usm := &gosnmp.UsmSecurityParameters{UserName: s.dest.User,
			AuthenticationProtocol: auth, AuthenticationPassphrase: s.dest.AuthKey,
			PrivacyProtocol: priv, PrivacyPassphrase: s.dest.PrivKey}
		if !s.dest.Inform {
			// A trap's authoritative engine is its sender: us. An inform's
			// is the receiver, which gosnmp discovers.
			usm.AuthoritativeEngineID = string(s.engine.ID)
			usm.AuthoritativeEngineBoots = s.engine.Boots
		}
		g.Version, g.SecurityModel, g.MsgFlags, g.SecurityParameters = gosnmp.Version3, gosnmp.UserSecurityModel, gosnmp.AuthPriv, usm
	default:
		return nil, fmt.Errorf("unknown SNMP version %q", s.dest.Version)
	}
	if err := g.Connect(); err != nil {
		return nil, fmt.Errorf("trap destination %s: %w", s.dest, err)
	}
	s.conn = g
	return g, nil
}

// Send implements Sink: a trap, or an inform retried until acknowledged.
func (s *snmpSink) Send(ctx context.Context, e Event) error {
	g, err := s.connect()
	if err != nil {
		return err
	}
	if usm, ok := g.SecurityParameters.(*gosnmp.UsmSecurityParameters); ok && !s.dest.Inform {
		usm.AuthoritativeEngineTime = uint32(time.Since(s.engine.Start) / time.Second)
	}
	g.Context = ctx
	pdus := append([]gosnmp.SnmpPDU{
		{Name: oidSysUpTime, Type: gosnmp.TimeTicks, Value: s.uptime()},
		{Name: oidSnmpTrapOID, Type: gosnmp.ObjectIdentifier, Value: NotificationOIDOf(e.Type)},
	}, varbinds(e)...)
	res, err := g.SendTrap(gosnmp.SnmpTrap{Variables: pdus, IsInform: s.dest.Inform})
	if err == nil && s.dest.Inform && res != nil && res.PDUType == gosnmp.Report {
		err = reportError(res)
	}
	if err != nil {
		// Start afresh next time: the receiver may have restarted with a
		// new engine, or the socket gone bad.
		s.Close()
		return fmt.Errorf("trap destination %s: %s: %w", s.dest, e.Type, explain(err))
	}
	return nil
}

// reportError names the USM report a receiver refused an inform with.
func reportError(res *gosnmp.SnmpPacket) error {
	for _, v := range res.Variables {
		switch v.Name {
		case ".1.3.6.1.6.3.15.1.1.3.0":
			return errors.New("the receiver does not know the SNMPv3 user")
		case ".1.3.6.1.6.3.15.1.1.5.0":
			return errors.New("wrong SNMPv3 authentication key")
		case ".1.3.6.1.6.3.15.1.1.6.0":
			return errors.New("wrong SNMPv3 privacy key")
		}
	}
	return fmt.Errorf("the receiver answered with a report (%d variables)", len(res.Variables))
}

// explain words gosnmp's errors for an operator.
func explain(err error) error {
	switch {
	case errors.Is(err, gosnmp.ErrUnknownUsername):
		return fmt.Errorf("the receiver does not know the SNMPv3 user: %w", err)
	case errors.Is(err, gosnmp.ErrWrongDigest):
		return fmt.Errorf("wrong SNMPv3 authentication key: %w", err)
	case errors.Is(err, gosnmp.ErrDecryption):
		return fmt.Errorf("wrong SNMPv3 privacy key: %w", err)
	case strings.Contains(err.Error(), "not authentic"):
		// The receiver's answer does not verify with our key: it is
		// not the key the receiver has for this user.
		return fmt.Errorf("wrong SNMPv3 authentication key (the receiver's answer does not authenticate): %w", err)
	}
	return err
}

// Close implements Sink.
func (s *snmpSink) Close() error {
	if s.conn == nil || s.conn.Conn == nil {
		s.conn = nil
		return nil
	}
	err := s.conn.Conn.Close()
	s.conn = nil
	return err
}
