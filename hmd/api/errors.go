package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hafw/hafw/config"
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
	Code    int          `json:"-"`
	Message string       `json:"error"`
	Fields  []FieldError `json:"fields,omitempty"`
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

// FromValidation turns a config.ValidationError (or any error) into an
// Error, keeping the field names.
func FromValidation(err error) *Error {
	var ve config.ValidationError
	if errors.As(err, &ve) {
		fields := make([]FieldError, len(ve))
		for i, f := range ve {
			fields[i] = FieldError{Field: f.Field, Reason: f.Reason}
		}
		return Invalid(fields...)
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	return Errorf(http.StatusInternalServerError, "%v", err)
}
