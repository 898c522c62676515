// Package heartbeat carries hmd's heartbeats between the two sides of a
// pair: a compact, versioned, authenticated wire format (this file and
// replay.go: pure, no sockets) and a UDP transport over one or more paths
// (transport.go) that turns what it hears, and what it stops hearing, into
// events for the HA state machine (package ha).
//
// Wire format, version 3, big endian:
//
//	0  2  magic "HB"
//	2  1  version (3; 2 is read and written too, below)
//	3  1  flags (FlagReply, FlagGraceful, FlagHoldsVIP, FlagDegraded, FlagIneligible)
//	4  1  sender HA state (index into ha.States()+1; 0 = none)
//	5  1  len(sender) = s, 1..MaxIDLen
//	6  s  sender node ID
//	.  1  len(pair) = p, 1..MaxIDLen
//	.  p  pair ID
//	.  1  len(firmware) = f, 0..MaxIDLen  (version 3 only)
//	.  f  the sender's firmware version  (version 3 only)
//	.  8  sequence number (per run of the sender and pair, from 1, dense)
//	.  8  send time, Unix nanoseconds of the sender's clock
//	.  8  echo: the send time of the peer message this one answers (replies)
//	.  8  failover epoch
//	.  8  boot: random, drawn when the sender's monitor starts (never 0)
//	.  8  challenge: the sender's current random nonce for the receiver (never 0)
//	.  8  answer: the receiver's challenge as the sender last learned it (0: none yet)
//	. 32  HMAC-SHA256 over everything before it
//
// Version 2 is version 3 without the firmware. A pair is upgraded one node
// at a time, and firmware that reads only version 2 rejects version 3: a
// monitor therefore writes version 2 to a peer until it has heard version 3
// from it, and meanwhile adds a version-3 probe now and then, which a
// version-2 peer drops and a version-3 peer answers (transport.go).
//
// A message counts only when it answers the receiver's current challenge
// (replay.go): no packet captured before a restart, or before the peer's
// last restart, can, and sequence numbers need neither the clock nor any
// saved state. The HMAC key is derived with HKDF-SHA256 from the pairing
// secret and the pair ID, so one pairing password never keys two pairs
// alike.
package heartbeat

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/hafw/hafw/hmd/ha"
)

// Version is the newest wire format version this package writes and
// reads; MinVersion the oldest.
const (
	Version    = 3
	MinVersion = 2
)

// MaxIDLen bounds node and pair IDs on the wire.
const MaxIDLen = 64

// Flags of a heartbeat.
const (
	// FlagReply marks an echo of a peer heartbeat (for the round trip);
	// replies are never answered.
	FlagReply uint8 = 1 << iota
	// FlagGraceful: the sender is shutting down in an orderly way.
	FlagGraceful
	// FlagHoldsVIP: the sender holds the VIP.
	FlagHoldsVIP
	// FlagDegraded: the sender's application failed within its hold-down;
	// it must not be handed the service (ha.AppFailed).
	FlagDegraded
	// FlagIneligible: the sender may take no HA role (an unactivated
	// virtual appliance): it must not be handed the service.
	FlagIneligible
	knownFlags = FlagReply | FlagGraceful | FlagHoldsVIP | FlagDegraded | FlagIneligible
)

const (
	macLen   = sha256.Size
	fixedLen = 2 + 1 + 1 + 1 + 1 + 1 + 1 + 8*7 + macLen // without the IDs and the firmware
	// MaxLen is the longest valid message.
	MaxLen = fixedLen + 3*MaxIDLen
)

var magic = [2]byte{'H', 'B'}

// Message is one heartbeat.
type Message struct {
	// Wire is the format version the message was read as, or is to be
	// sealed as (0: Version).
	Wire   uint8
	Flags  uint8
	State  ha.State
	Sender string
	Pair   string
	Seq    uint64
	// SentAt and Echo are Unix nanoseconds of the sender's clock and of
	// the echoed message's sender (so the echoing side's clock never
	// enters the round trip).
	SentAt int64
	Echo   int64
	Epoch  uint64
	// Boot identifies the sender's run, Challenge is its nonce for the
	// receiver and Answer the receiver's nonce it echoes (replay.go).
	Boot      uint64
	Challenge uint64
	Answer    uint64
	// Firmware is the sender's firmware version ("" in version 2).
	Firmware string
}

// Decoding errors. Each rejected message matches exactly one of them (with
// errors.Is), and the Verifier counts rejects by Reason.
var (
	ErrTruncated   = errors.New("heartbeat truncated")
	ErrMalformed   = errors.New("heartbeat malformed")
	ErrVersion     = errors.New("heartbeat version unsupported")
	ErrUnknownPeer = errors.New("heartbeat from unknown peer")
	ErrForged      = errors.New("heartbeat authentication failed")
	ErrReplayed    = errors.New("heartbeat replayed")
	// ErrUnproven: authentic, but not (yet) an answer to this node's
	// current challenge — a peer that has not learned it, or a replay.
	// It is not counted as a reject unless it is also ErrReplayed; the
	// monitor answers it so that a genuine peer learns the challenge.
	ErrUnproven = errors.New("heartbeat does not answer this node's challenge")
)

// Reason is the counter name of a decoding error ("truncated", …).
func Reason(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{{ErrTruncated, "truncated"}, {ErrMalformed, "malformed"}, {ErrVersion, "version"},
		{ErrUnknownPeer, "unknown_peer"}, {ErrForged, "forged"}, {ErrReplayed, "replayed"}, {ErrUnproven, "unproven"}} {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "other"
}

// DeriveKey derives a pair's heartbeat key from its pairing secret.
func DeriveKey(secret []byte, pair string) ([]byte, error) {
	if len(secret) == 0 {
		return nil, errors.New("derive heartbeat key: empty pairing secret")
	}
	k, err := hkdf.Key(sha256.New, secret, []byte("hafw heartbeat v1"), pair, 32)
	if err != nil {
		return nil, fmt.Errorf("derive heartbeat key: %w", err)
	}
	return k, nil
}

func stateCode(s ha.State) (byte, error) {
	if s == "" {
		return 0, nil
	}
	for i, v := range ha.States() {
		if v == s {
			return byte(i + 1), nil
		}
	}
	return 0, fmt.Errorf("unknown HA state %q", s)
}

func checkID(what, id string) error {
	if len(id) == 0 || len(id) > MaxIDLen {
		return fmt.Errorf("%s ID %q: length must be 1..%d", what, id, MaxIDLen)
	}
	return nil
}

// Seal encodes m and appends its HMAC under key.
func Seal(m Message, key []byte) ([]byte, error) {
	if err := checkID("sender", m.Sender); err != nil {
		return nil, fmt.Errorf("seal heartbeat: %w", err)
	}
	if err := checkID("pair", m.Pair); err != nil {
		return nil, fmt.Errorf("seal heartbeat: %w", err)
	}
	if m.Flags&^knownFlags != 0 {
		return nil, fmt.Errorf("seal heartbeat: unknown flags %#x", m.Flags)
	}
	if m.Boot == 0 || m.Challenge == 0 {
		return nil, errors.New("seal heartbeat: boot and challenge must not be zero")
	}
	wire := m.Wire
	if wire == 0 {
		wire = Version
	}
	if wire < MinVersion || wire > Version {
		return nil, fmt.Errorf("seal heartbeat: wire version %d", wire)
	}
	if len(m.Firmware) > MaxIDLen {
		return nil, fmt.Errorf("seal heartbeat: firmware version %q longer than %d", m.Firmware, MaxIDLen)
	}
	st, err := stateCode(m.State)
	if err != nil {
		return nil, fmt.Errorf("seal heartbeat: %w", err)
	}
	b := make([]byte, 0, fixedLen+len(m.Sender)+len(m.Pair)+len(m.Firmware))
	b = append(b, magic[:]...)
	b = append(b, wire, m.Flags, st, byte(len(m.Sender)))
	b = append(b, m.Sender...)
	b = append(b, byte(len(m.Pair)))
	b = append(b, m.Pair...)
	if wire >= 3 {
		b = append(b, byte(len(m.Firmware)))
		b = append(b, m.Firmware...)
	}
	b = binary.BigEndian.AppendUint64(b, m.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(m.SentAt))
	b = binary.BigEndian.AppendUint64(b, uint64(m.Echo))
	b = binary.BigEndian.AppendUint64(b, m.Epoch)
	b = binary.BigEndian.AppendUint64(b, m.Boot)
	b = binary.BigEndian.AppendUint64(b, m.Challenge)
	b = binary.BigEndian.AppendUint64(b, m.Answer)
	mac := hmac.New(sha256.New, key)
	mac.Write(b)
	return mac.Sum(b), nil
}

// parse decodes the fields of b without checking the MAC; body is the
// authenticated part and tag the MAC.
func parse(b []byte) (m Message, body, tag []byte, err error) {
	if len(b) < 6 {
		return m, nil, nil, ErrTruncated
	}
	if b[0] != magic[0] || b[1] != magic[1] {
		return m, nil, nil, fmt.Errorf("%w: bad magic", ErrMalformed)
	}
	if b[2] < MinVersion || b[2] > Version {
		return m, nil, nil, fmt.Errorf("%w: %d", ErrVersion, b[2])
	}
	m.Wire = b[2]
	m.Flags = b[3]
	if m.Flags&^knownFlags != 0 {
		return m, nil, nil, fmt.Errorf("%w: unknown flags %#x", ErrMalformed, m.Flags)
	}
	states := ha.States()
	switch st := int(b[4]); {
	case st == 0:
	case st <= len(states):
		m.State = states[st-1]
	default:
		return m, nil, nil, fmt.Errorf("%w: state code %d", ErrMalformed, st)
	}
	rest := b[5:]
	field := func(what string, min int) (string, error) {
		if len(rest) < 1 {
			return "", ErrTruncated
		}
		n := int(rest[0])
		if n < min || n > MaxIDLen {
			return "", fmt.Errorf("%w: %s length %d", ErrMalformed, what, n)
		}
		if len(rest) < 1+n {
			return "", ErrTruncated
		}
		s := string(rest[1 : 1+n])
		rest = rest[1+n:]
		return s, nil
	}
	if m.Sender, err = field("sender ID", 1); err != nil {
		return m, nil, nil, err
	}
	if m.Pair, err = field("pair ID", 1); err != nil {
		return m, nil, nil, err
	}
	if m.Wire >= 3 {
		if m.Firmware, err = field("firmware version", 0); err != nil {
			return m, nil, nil, err
		}
	}
	const fields = 7 * 8
	if len(rest) < fields+macLen {
		return m, nil, nil, ErrTruncated
	}
	if len(rest) > fields+macLen {
		return m, nil, nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(rest)-fields-macLen)
	}
	m.Seq = binary.BigEndian.Uint64(rest[0:])
	m.SentAt = int64(binary.BigEndian.Uint64(rest[8:]))
	m.Echo = int64(binary.BigEndian.Uint64(rest[16:]))
	m.Epoch = binary.BigEndian.Uint64(rest[24:])
	m.Boot = binary.BigEndian.Uint64(rest[32:])
	m.Challenge = binary.BigEndian.Uint64(rest[40:])
	m.Answer = binary.BigEndian.Uint64(rest[48:])
	if m.Boot == 0 || m.Challenge == 0 {
		return m, nil, nil, fmt.Errorf("%w: zero boot or challenge", ErrMalformed)
	}
	n := len(b) - macLen
	return m, b[:n], b[n:], nil
}

// authentic reports whether tag is body's HMAC under key.
func authentic(body, tag, key []byte) bool {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return hmac.Equal(mac.Sum(nil), tag)
}
