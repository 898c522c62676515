package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/hafw/hafw/config"
)

// PasswordChange is POST /v1/password: a new administrator password, given
// only with the current one, also on the local socket, so that a shell
// left open on the console does not hand over the appliance's pairing
// and console password.
type PasswordChange struct {
	Old string `json:"old"`
	New string `json:"new"`
}

func (p *PasswordChange) validate() []FieldError {
	var fe []FieldError
	if p.Old == "" {
		fe = append(fe, FieldError{"old", "the current password is required"})
	}
	if p.New == "" {
		fe = append(fe, FieldError{"new", "the new password is required"})
	}
	return fe
}

// PasswordBackend is implemented by a backend that can change the
// administrator password (hmd, through Password.Change); NewHandler serves
// POST /v1/password only then. client is the request's source address, for
// the per-client limit on password checks.
type PasswordBackend interface {
	ChangePassword(ctx context.Context, client netip.Addr, req PasswordChange) (Result, error)
}

func (h *handler) passwordRoutes(mux *http.ServeMux, pb PasswordBackend) {
	mux.HandleFunc("POST /v1/password", h.admin(func(w http.ResponseWriter, r *http.Request) {
		client := clientAddr(r)
		operation[PasswordChange](h, func(ctx context.Context, req PasswordChange) (Result, error) {
			return pb.ChangePassword(ctx, client, req)
		})(w, r)
	}))
}

// ChangePassword changes the administrator password on hmd's API.
func (c *Client) ChangePassword(ctx context.Context, req PasswordChange) (Result, error) {
	var res Result
	err := c.do(ctx, http.MethodPost, "/v1/password", req, &res)
	return res, err
}

// ErrNoPassword means no administrator password is configured, so none can
// be changed: the setup wizard sets the first one.
var ErrNoPassword = errors.New("no administrator password is configured: set one with setup")

// Change replaces the administrator password: old must be the current one
// (checked under the same per-client limit and in the same lane as logins,
// so that this route is no faster way to guess), new must pass
// config.CheckPasswordStrength and differ from old. The new hash goes to
// Store; nothing is stored unless every check passed. Then the remembered
// successes are forgotten and the OnChange functions run (the console
// ends its sessions). Errors are *Error naming the field at fault.
func (p *Password) Change(client netip.Addr, old, new string) error {
	if p.Store == nil {
		return Errorf(http.StatusNotImplemented, "the administrator password cannot be changed on this server")
	}
	if err := config.CheckPasswordStrength(new); err != nil {
		return Invalid(FieldError{"new", err.Error()})
	}
	if new == old {
		return Invalid(FieldError{"new", "must differ from the current password"})
	}
	p.changing.Lock()
	defer p.changing.Unlock()
	hash := p.Hash()
	if hash == "" {
		return Errorf(http.StatusConflict, "%v", ErrNoPassword)
	}
	good, retry := p.verify(client, false, hash, old)
	if retry > 0 {
		return throttledError(retry)
	}
	if !good {
		return &Error{Code: http.StatusForbidden, Message: "password not changed", Fields: []FieldError{{"old", "is not the current administrator password"}}}
	}
	newHash, err := config.HashPassword(new)
	if err != nil {
		return fmt.Errorf("hash the new password: %w", err)
	}
	if err := p.Store(newHash); err != nil {
		return fmt.Errorf("store the new password: %w", err)
	}
	p.mu.Lock()
	p.ok = nil
	hooks := p.onChange
	p.mu.Unlock()
	for _, f := range hooks {
		f()
	}
	return nil
}

// OnChange has f run after each password change.
func (p *Password) OnChange(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onChange = append(p.onChange, f)
}
