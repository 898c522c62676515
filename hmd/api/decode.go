package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/humantime"
)

// MaxBody bounds every request body; the largest request is a few hundred
// bytes.
const MaxBody = 64 << 10

// Limits of the timing settings. The failover wait goes down to sub-second
// values (a LAN pair may want to fail over within a second) but not so low
// that one lost datagram is a failover; heartbeats must fit at least three
// times into the wait.
const (
	MinFailoverWait      = 100 * time.Millisecond
	MaxFailoverWait      = 10 * time.Minute
	DefaultFailoverWait  = 10 * time.Second
	MinHeartbeatInterval = 10 * time.Millisecond
)

// request is what every decoded request can check about itself.
type request interface {
	validate() []FieldError
}

// Decode reads one JSON request strictly (unknown keys, trailing data,
// wrong types and oversize bodies are errors) and validates it. Errors are
// *Error with the offending field named where there is one.
func Decode[T any, P interface {
	*T
	request
}](r io.Reader) (T, error) {
	var v T
	data, err := io.ReadAll(io.LimitReader(r, MaxBody+1))
	if err != nil {
		return v, Errorf(http.StatusBadRequest, "read request: %v", err)
	}
	if len(data) > MaxBody {
		return v, Errorf(http.StatusRequestEntityTooLarge, "request larger than %d bytes", MaxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, decodeError(err)
	}
	if dec.More() {
		return v, Errorf(http.StatusBadRequest, "request has data after the JSON object")
	}
	if fields := P(&v).validate(); len(fields) > 0 {
		return v, Invalid(fields...)
	}
	return v, nil
}

// decodeError names the field a JSON error is about where the decoder says.
func decodeError(err error) *Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return Invalid(FieldError{Field: te.Field, Reason: fmt.Sprintf("must be a %s, not a %s", jsonKind(te.Type.Kind().String()), te.Value)})
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return Invalid(FieldError{Field: strings.Trim(f, `"`), Reason: "is not a known field"})
	}
	return Errorf(http.StatusBadRequest, "request is not valid JSON: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "list"
	}
	return "number"
}

func checkType(field, v string, out *[]FieldError) {
	if v != Automatic && v != Manual {
		*out = append(*out, FieldError{field, fmt.Sprintf("%q must be %q or %q", v, Automatic, Manual)})
	}
}

// HeartbeatIntervalFor is the default heartbeat interval for a failover
// wait: five heartbeats per wait, so that four may be lost.
func HeartbeatIntervalFor(wait time.Duration) time.Duration {
	return max(wait/5, MinHeartbeatInterval)
}

func checkTiming(waitField string, wait time.Duration, ivField string, iv time.Duration, out *[]FieldError) {
	const notDuration = "is not a duration (for example 10s, 500ms, or a number of seconds)"
	waitOK := false
	switch {
	case wait == time.Duration(badDuration):
		*out = append(*out, FieldError{waitField, notDuration})
	case wait < MinFailoverWait || wait > MaxFailoverWait:
		*out = append(*out, FieldError{waitField, fmt.Sprintf("%s is outside %s to %s", humantime.Duration(wait), humantime.Duration(MinFailoverWait), humantime.Duration(MaxFailoverWait))})
	default:
		waitOK = true
	}
	switch {
	case iv == time.Duration(badDuration):
		*out = append(*out, FieldError{ivField, notDuration})
	case waitOK && iv != 0 && (iv < MinHeartbeatInterval || iv > wait/3):
		*out = append(*out, FieldError{ivField, fmt.Sprintf("%v must be between %v and a third of the failover wait (%v)", iv, MinHeartbeatInterval, wait/3)})
	}
}

func checkAddr(field, v string, required bool, out *[]FieldError) {
	if v == "" {
		if required {
			*out = append(*out, FieldError{field, "is required"})
		}
		return
	}
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is4() || a.IsUnspecified() || a.IsMulticast() {
		*out = append(*out, FieldError{field, fmt.Sprintf("%q is not a unicast IPv4 address", v)})
	}
}

func checkName(field, v string, out *[]FieldError) {
	if !config.ValidHostname(v) {
		*out = append(*out, FieldError{field, fmt.Sprintf("%q must start with a letter, end with a letter or number, and contain only letters, numbers and dashes", v)})
	}
}

func checkText(field, v string, maxLen int, out *[]FieldError) {
	if v == "" || len(v) > maxLen || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		*out = append(*out, FieldError{field, fmt.Sprintf("must be 1 to %d printable characters", maxLen)})
	}
}

func (r *PairRequest) validate() []FieldError {
	var out []FieldError
	checkName("secondary_name", r.SecondaryName, &out)
	checkAddr("secondary_ip", r.SecondaryIP, true, &out)
	if r.SecondaryPassword == "" {
		out = append(out, FieldError{"secondary_password", "is required"})
	}
	checkType("failover_type", r.FailoverType, &out)
	checkType("failback_type", r.FailbackType, &out)
	if r.LongFailoverWait == 0 {
		r.LongFailoverWait = Duration(DefaultFailoverWait)
	}
	checkTiming("long_failover_wait", time.Duration(r.LongFailoverWait), "heartbeat_interval", time.Duration(r.HeartbeatInterval), &out)
	if r.SecondaryFingerprint != "" && !validFingerprint(r.SecondaryFingerprint) {
		out = append(out, FieldError{"secondary_fingerprint", "must be 64 hexadecimal digits (SHA-256)"})
	}
	r.WitnessRef.validate(&out)
	if r.Witness != "" && r.Witness == r.SecondaryIP {
		out = append(out, FieldError{"witness", "must be a third node, not the secondary"})
	}
	if !r.TrustOnFirstUse {
		if r.SecondaryFingerprint == "" {
			out = append(out, FieldError{"secondary_fingerprint", unpinned("secondary")})
		}
		if r.Witness != "" && r.WitnessFingerprint == "" {
			out = append(out, FieldError{"witness_fingerprint", unpinned("witness")})
		}
	}
	return out
}

func (w *WitnessRef) validate(out *[]FieldError) {
	if w.Witness == "" {
		if w.WitnessPassword != "" || w.WitnessFingerprint != "" {
			*out = append(*out, FieldError{"witness", "is required with witness_password or witness_fingerprint"})
		}
		return
	}
	checkAddr("witness", w.Witness, true, out)
	if w.WitnessPassword == "" {
		*out = append(*out, FieldError{"witness_password", "is required with a witness (its appliance password)"})
	}
	if w.WitnessFingerprint != "" && !validFingerprint(w.WitnessFingerprint) {
		*out = append(*out, FieldError{"witness_fingerprint", "must be 64 hexadecimal digits (SHA-256)"})
	}
}

func (r *PeerPairRequest) validate() []FieldError {
	var out []FieldError
	checkName("primary_name", r.PrimaryName, &out)
	checkAddr("primary_hip", r.PrimaryHIP, true, &out)
	checkAddr("primary_direct_ip", r.PrimaryDirectIP, false, &out)
	if p, err := netip.ParsePrefix(r.VIP); err != nil || !p.Addr().Is4() {
		out = append(out, FieldError{"vip", fmt.Sprintf("%q is not an IPv4 address with its mask", r.VIP)})
	}
	checkText("version", r.Version, 64, &out)
	checkText("udi", r.UDI, 256, &out)
	checkText("profile", r.Profile, 64, &out)
	r.PairSettings.check(&out)
	if s, err := base64.StdEncoding.DecodeString(r.Secret); err != nil || len(s) != 32 {
		out = append(out, FieldError{"secret", "must be 32 bytes in base64"})
	}
	return out
}

func (r *PeerRequest) validate() []FieldError {
	var out []FieldError
	checkAddr("peer", r.Peer, false, &out)
	return out
}

// unpinned is the reason a pairing names no certificate for a peer it
// hands secrets to.
func unpinned(peer string) string {
	return fmt.Sprintf("is required: the %s's certificate fingerprint, as its `hactl status` or console Appliances page shows it (or trust_on_first_use to pin whatever it presents now)", peer)
}

func validFingerprint(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
