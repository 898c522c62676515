package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/refusal"
)

// FieldError is one bad input field, named by its JSON key so that the web
// UI can show the reason next to the field.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Error is an API failure with its HTTP status; it is also the JSON body of
// every error response.
type Error struct {
	// Code is the HTTP status (not encoded: it is the response's status).
	Code    int    `json:"-"`
	Message string `json:"error"`
	// Reason is the daemon's refusal code (refusal.Reason's String), for
	// a client that acts on why it was refused rather than on the
	// message's wording; empty for an error that is no refusal.
	Reason string       `json:"reason,omitempty"`
	Fields []FieldError `json:"fields,omitempty"`
	// RetryAfter, when not zero, is sent as the Retry-After header (a
	// 429 of the password limit).
	RetryAfter time.Duration `json:"-"`
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Reason
	}
	return e.Message + ": " + strings.Join(parts, "; ")
}

// Errorf makes an Error with the given HTTP status.
func Errorf(code int, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

// Invalid reports bad input fields (HTTP 400).
func Invalid(fields ...FieldError) *Error {
	return &Error{Code: http.StatusBadRequest, Message: "invalid request", Fields: fields}
}

// FromValidation turns a backend's error into the API's answer, keeping
// the field names: a config.ValidationError is a 400, a refusal.Error gets
// its reason's status (refusalStatus), an Error keeps its own, anything
// else is a 500.
func FromValidation(err error) *Error {
	var ve config.ValidationError
	if errors.As(err, &ve) {
		fields := make([]FieldError, len(ve))
		for i, f := range ve {
			fields[i] = FieldError{Field: f.Field, Reason: f.Reason}
		}
		return Invalid(fields...)
	}
	// A refusal first: a peer's refusal wraps the peer's own Error, whose
	// message the refusal words for this side.
	var re *refusal.Error
	if errors.As(err, &re) {
		return fromRefusal(re)
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	return Errorf(http.StatusInternalServerError, "%v", err)
}

// refusalStatus is the one mapping from the daemon's refusals to HTTP
// statuses: 400 for a request that names no peer or application it could
// mean, 403 for a caller that is no paired peer, 409 for what the
// appliance's state or configuration does not allow, 501 and 503 for what
// it cannot do (now), 502 for a peer that did not answer. PeerRefused
// keeps the peer's own status (statusOf). TestEveryRefusalHasAStatus
// fails for a reason added without a row here.
var refusalStatus = map[refusal.Reason]int{
	refusal.PeerRequired:       http.StatusBadRequest,
	refusal.UnknownPeer:        http.StatusBadRequest,
	refusal.UnknownApp:         http.StatusBadRequest,
	refusal.NotPaired:          http.StatusConflict,
	refusal.NoPairing:          http.StatusConflict,
	refusal.NotAPeer:           http.StatusForbidden,
	refusal.CommandRefused:     http.StatusConflict,
	refusal.WrongRole:          http.StatusConflict,
	refusal.AlreadyPaired:      http.StatusConflict,
	refusal.NoStaticAddress:    http.StatusConflict,
	refusal.Addressing:         http.StatusConflict,
	refusal.VersionMismatch:    http.StatusConflict,
	refusal.UnsupportedPairing: http.StatusConflict,
	refusal.PeerMismatch:       http.StatusConflict,
	refusal.NotActivated:       http.StatusConflict,
	refusal.NoHARole:           http.StatusConflict,
	refusal.NotInRecovery:      http.StatusConflict,
	refusal.LicenseRefused:     http.StatusConflict,
	refusal.Unsupported:        http.StatusNotImplemented,
	refusal.Unavailable:        http.StatusServiceUnavailable,
	refusal.PeerUnreachable:    http.StatusBadGateway,
	refusal.PeerPassword:       http.StatusConflict,
	refusal.PeerRefused:        http.StatusConflict,
}

// statusOf is the HTTP status of a refusal.
func statusOf(re *refusal.Error) int {
	code, ok := refusalStatus[re.Reason]
	if !ok {
		return http.StatusInternalServerError
	}
	if re.Reason == refusal.PeerRefused {
		// The peer's answer keeps its status: a peer that found the
		// request invalid makes it invalid here too.
		var ae *Error
		if errors.As(re.Err, &ae) && ae.Code != 0 {
			return ae.Code
		}
	}
	return code
}

// fromRefusal is a refusal as the API answers it.
func fromRefusal(re *refusal.Error) *Error {
	ae := &Error{Code: statusOf(re), Message: re.Message, Reason: re.Reason.String()}
	for _, f := range re.Fields {
		ae.Fields = append(ae.Fields, FieldError{Field: f.Name, Reason: f.Reason})
	}
	return ae
}
