// Package refusal is how hmd's daemon says no: a typed reason code, the
// operator's message, and the request fields the refusal is about. The
// daemon knows nothing of HTTP; hmd/api alone maps each reason to a status,
// as the heartbeat package names its rejects and the appliance package
// its role reasons by code. It sits below both so that neither imports the
// other for it.
package refusal

import (
	"fmt"
	"strings"
)

// Reason is why an operation was refused. Each has a stable code (String)
// and exactly one HTTP status in hmd/api.
type Reason int

// The reasons.
const (
	// PeerRequired: this appliance has several peers and the request
	// names none.
	PeerRequired Reason = iota
	// UnknownPeer: the request names an address that is no paired peer.
	UnknownPeer
	// UnknownApp: the request names an application this appliance does
	// not run.
	UnknownApp
	// NotPaired: the operation needs a pairing and there is none.
	NotPaired
	// NoPairing: no pairing is stored for the peer the operation names
	// (or it was deleted while the operation ran).
	NoPairing
	// NotAPeer: the caller's certificate is no paired peer's.
	NotAPeer
	// CommandRefused: the state machine refused an operator command in
	// the pair's current state (switchover, failback).
	CommandRefused
	// WrongRole: the operation is for the other role (only a primary
	// configures its secondary, only a secondary restores its primary).
	WrongRole
	// AlreadyPaired: the pairing to be made exists already.
	AlreadyPaired
	// NoStaticAddress: the health-monitor port has no static address.
	NoStaticAddress
	// Addressing: the addresses break the pairing rules (VIP, health
	// monitor and witness addresses, subnets).
	Addressing
	// VersionMismatch: the two sides run different software versions.
	VersionMismatch
	// UnsupportedPairing: the two models may not be paired (the seed's
	// matrices), or a model is unknown.
	UnsupportedPairing
	// PeerMismatch: the peer's answer contradicts what was asked of it.
	PeerMismatch
	// NotActivated: a virtual secondary has no activation license.
	NotActivated
	// NoHARole: this appliance may take no HA role now (appliance.DecideRole).
	NoHARole
	// NotInRecovery: a pairing is restored only onto a primary in
	// recovery mode.
	NotInRecovery
	// LicenseRefused: the license file was refused (wrong UDI, bad
	// signature, expired, malformed).
	LicenseRefused
	// Unsupported: this appliance cannot do that (a feature not wired in).
	Unsupported
	// Unavailable: what the operation needs is missing right now.
	Unavailable
	// PeerUnreachable: the peer's hmd did not answer.
	PeerUnreachable
	// PeerPassword: the peer refused the password the operator gave.
	PeerPassword
	// PeerRefused: the peer answered with a refusal of its own, which is
	// the Error's cause (Err).
	PeerRefused

	// numReasons sizes codes, so that a reason added above without a code
	// leaves an empty one that TestEveryReasonHasACode catches.
	numReasons
)

// codes are the reasons' stable codes: an API client may act on them, so
// a code, once shipped, does not change.
var codes = [numReasons]string{
	PeerRequired:       "peer-required",
	UnknownPeer:        "unknown-peer",
	UnknownApp:         "unknown-app",
	NotPaired:          "not-paired",
	NoPairing:          "no-pairing",
	NotAPeer:           "not-a-peer",
	CommandRefused:     "command-refused",
	WrongRole:          "wrong-role",
	AlreadyPaired:      "already-paired",
	NoStaticAddress:    "no-static-address",
	Addressing:         "addressing",
	VersionMismatch:    "version-mismatch",
	UnsupportedPairing: "unsupported-pairing",
	PeerMismatch:       "peer-mismatch",
	NotActivated:       "not-activated",
	NoHARole:           "no-ha-role",
	NotInRecovery:      "not-in-recovery",
	LicenseRefused:     "license-refused",
	Unsupported:        "unsupported",
	Unavailable:        "unavailable",
	PeerUnreachable:    "peer-unreachable",
	PeerPassword:       "peer-password",
	PeerRefused:        "peer-refused",
}

// All is every reason, for the tables that must cover each (hmd/api's
// HTTP statuses).
func All() []Reason {
	all := make([]Reason, numReasons)
	for i := range all {
		all[i] = Reason(i)
	}
	return all
}

// String is the reason's stable code (logs, tests).
func (r Reason) String() string {
	if r < 0 || r >= numReasons {
		return fmt.Sprintf("refusal(%d)", int(r))
	}
	return codes[r]
}

// Field is one request field a refusal is about, named by the request's
// JSON key so that a form can show the reason next to it.
type Field struct {
	Name   string
	Reason string
}

// Error is a refusal. Message and Fields are what the operator sees,
// word for word, whichever way the refusal reaches them.
type Error struct {
	Reason  Reason
	Message string
	Fields  []Field
	// Err is the cause, if any (the peer's own refusal for PeerRefused).
	Err error
}

// New is a refusal for reason with a formatted message.
func New(reason Reason, format string, a ...any) *Error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, a...)}
}

// On names the request field the refusal is about, with the message as
// its reason; "" names none.
func (e *Error) On(field string) *Error {
	if field != "" {
		e.Fields = []Field{{Name: field, Reason: e.Message}}
	}
	return e
}

// Error is the message followed by the fields' reasons.
func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Name + ": " + f.Reason
	}
	return e.Message + ": " + strings.Join(parts, "; ")
}

// Unwrap is the cause.
func (e *Error) Unwrap() error { return e.Err }
