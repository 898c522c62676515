package api

import (
	"context"
	"net/http"
)

// Deleting an activation license, the seed's "Delete Secondary Activation
// license" on the primary's HA form: DELETE /v1/license/activation removes
// the appliance's own, and POST /v1/secondary/deactivate on a primary asks
// the secondary named in the request to remove its own. The secondary's
// password goes only to the certificate the operator confirmed, so the
// request must pin it.

// DeactivateRequest is POST /v1/secondary/deactivate on a primary.
type DeactivateRequest struct {
	SecondaryRequest
}

func (r *DeactivateRequest) validate() []FieldError {
	out := r.SecondaryRequest.validate()
	switch {
	case r.SecondaryFingerprint == "":
		out = append(out, FieldError{"secondary_fingerprint", "is required: the SHA-256 of the certificate the secondary presents (Check secondary shows it; compare it with the secondary's own console)"})
	case !validFingerprint(r.SecondaryFingerprint):
		out = append(out, FieldError{"secondary_fingerprint", "must be 64 lowercase hexadecimal digits (SHA-256)"})
	}
	return out
}

// ActivationBackend is implemented by a backend that can delete activation
// licenses; NewHandler serves the routes below only then.
type ActivationBackend interface {
	// RemoveActivation deletes this appliance's activation license; one
	// that holds none is refused.
	RemoveActivation(ctx context.Context) (LicenseResult, error)
	// DeactivateSecondary asks the secondary named in req to delete its
	// activation license.
	DeactivateSecondary(ctx context.Context, req DeactivateRequest) (LicenseResult, error)
}

func (h *handler) activationRoutes(mux *http.ServeMux, b ActivationBackend) {
	mux.HandleFunc("DELETE /v1/license/activation", h.admin(func(w http.ResponseWriter, r *http.Request) {
		res, err := b.RemoveActivation(r.Context())
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.reply(w, res)
	}))
	mux.HandleFunc("POST /v1/secondary/deactivate", h.admin(operation[DeactivateRequest](h, b.DeactivateSecondary)))
}

// RemoveActivation is DELETE /v1/license/activation.
func (c *Client) RemoveActivation(ctx context.Context) (LicenseResult, error) {
	var res LicenseResult
	err := c.do(ctx, http.MethodDelete, "/v1/license/activation", nil, &res)
	return res, err
}

// DeactivateSecondary is POST /v1/secondary/deactivate.
func (c *Client) DeactivateSecondary(ctx context.Context, req DeactivateRequest) (LicenseResult, error) {
	var res LicenseResult
	err := c.do(ctx, http.MethodPost, "/v1/secondary/deactivate", req, &res)
	return res, err
}
