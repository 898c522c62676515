package api

import (
	"context"
	"net/http"
)

// Recovery started from the recovering primary (its console's Recovery
// page): the operator names the secondary there, and the primary asks the
// secondary's POST /v1/recover to restore it, with this primary's own
// address and certificate. The primary's password goes with the request:
// the secondary presents it to the primary's /v1/peer/restore, the one
// credential the two still share.

// RecoverFromRequest is POST /v1/recover/from-secondary on a primary in
// recovery mode. The secondary's certificate must be pinned: its password
// and this primary's go only to the certificate the operator confirmed.
type RecoverFromRequest struct {
	SecondaryRequest
	// PrimaryPassword is this appliance's own password.
	PrimaryPassword string `json:"primary_password"`
}

func (r *RecoverFromRequest) validate() []FieldError {
	out := (&DeactivateRequest{r.SecondaryRequest}).validate()
	if r.PrimaryPassword == "" {
		out = append(out, FieldError{"primary_password", "is required: the secondary presents it to this appliance to restore the configuration"})
	}
	return out
}

// RecoveryRequester is implemented by a backend that can ask its secondary
// for a restore; NewHandler serves the route only then.
type RecoveryRequester interface {
	RecoverFromSecondary(ctx context.Context, req RecoverFromRequest) (Result, error)
}

func (h *handler) recoverFromRoutes(mux *http.ServeMux, b RecoveryRequester) {
	mux.HandleFunc("POST /v1/recover/from-secondary", h.admin(operation[RecoverFromRequest](h, b.RecoverFromSecondary)))
}

// RecoverFromSecondary is POST /v1/recover/from-secondary.
func (c *Client) RecoverFromSecondary(ctx context.Context, req RecoverFromRequest) (Result, error) {
	var r Result
	err := c.do(ctx, http.MethodPost, "/v1/recover/from-secondary", req, &r)
	return r, err
}
