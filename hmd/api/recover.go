package api

import (
	"context"
	"fmt"
	"net/http"
)

// Recovery mode (the seed's "restore the configuration from Secondary"): a
// primary that lost its data partition boots with no HA role and knows
// nothing of its pair. The secondary still holds everything both sides
// agreed at pairing time, so the operator asks the secondary to push it
// back (POST /v1/recover); the secondary sends it to the recovering
// primary (POST /v1/peer/restore) with the primary's appliance password —
// the pairing secret and the pinned certificates are what was lost, so the
// password is the only credential the two still share — and re-pins the
// primary's new certificate.

// RecoverRequest is POST /v1/recover on a secondary: restore the pairing of
// the primary at PrimaryIP, which runs hmd in recovery mode.
type RecoverRequest struct {
	PrimaryIP       string `json:"primary_ip"`
	PrimaryPassword string `json:"primary_password"`
	// PrimaryFingerprint pins the recovering primary's new API certificate
	// (SHA-256 hex). It is required unless TrustOnFirstUse, as in pairing:
	// the restore hands the pairing secret to whatever answers there.
	PrimaryFingerprint string `json:"primary_fingerprint,omitempty"`
	TrustOnFirstUse    bool   `json:"trust_on_first_use,omitempty"`
}

// RestoreRequest is POST /v1/peer/restore, secondary to recovering primary:
// the pairing exchange replayed from the secondary's store — what the
// primary sent when it paired, and what the secondary answered.
type RestoreRequest struct {
	Pairing   PeerPairRequest  `json:"pairing"`
	Secondary PeerPairResponse `json:"secondary"`
}

// RecoveryBackend is implemented by a backend that takes part in recovery
// mode; NewHandler serves the two routes only then.
type RecoveryBackend interface {
	// Recover is the operator's request on the secondary.
	Recover(ctx context.Context, req RecoverRequest) (Result, error)
	// Restore is the recovering primary's half; secondaryFP is the
	// secondary's client certificate, pinned from now on.
	Restore(ctx context.Context, req RestoreRequest, secondaryFP string) (Result, error)
}

func (r *RecoverRequest) validate() []FieldError {
	var out []FieldError
	checkAddr("primary_ip", r.PrimaryIP, true, &out)
	if r.PrimaryPassword == "" {
		out = append(out, FieldError{"primary_password", "is required"})
	}
	switch {
	case r.PrimaryFingerprint != "" && !validFingerprint(r.PrimaryFingerprint):
		out = append(out, FieldError{"primary_fingerprint", "must be 64 hexadecimal digits (SHA-256)"})
	case r.PrimaryFingerprint == "" && !r.TrustOnFirstUse:
		out = append(out, FieldError{"primary_fingerprint", unpinned("recovering primary")})
	}
	return out
}

func (r *RestoreRequest) validate() []FieldError {
	var out []FieldError
	for _, fe := range r.Pairing.validate() {
		out = append(out, FieldError{"pairing." + fe.Field, fe.Reason})
	}
	s := r.Secondary
	var sec []FieldError
	checkName("name", s.Name, &sec)
	checkAddr("hip", s.HIP, true, &sec)
	checkAddr("direct_ip", s.DirectIP, false, &sec)
	checkText("version", s.Version, 64, &sec)
	checkText("udi", s.UDI, 256, &sec)
	checkText("profile", s.Profile, 64, &sec)
	if s.InstanceSlot < 1 || s.InstanceSlot > 99 {
		sec = append(sec, FieldError{"instance_slot", fmt.Sprintf("%d is not an instance slot (1 to 99)", s.InstanceSlot)})
	}
	for _, fe := range sec {
		out = append(out, FieldError{"secondary." + fe.Field, fe.Reason})
	}
	return out
}

func (h *handler) recoveryRoutes(mux *http.ServeMux, b RecoveryBackend) {
	mux.HandleFunc("POST /v1/recover", h.admin(func(w http.ResponseWriter, r *http.Request) {
		operation[RecoverRequest](h, b.Recover)(w, r)
	}))
	mux.HandleFunc("POST /v1/peer/restore",
		peerOperation[RestoreRequest](h, "the primary password is wrong", "a restore needs the secondary's TLS client certificate", b.Restore))
}

// Recover is POST /v1/recover (operator, on the secondary).
func (c *Client) Recover(ctx context.Context, req RecoverRequest) (Result, error) {
	var r Result
	err := c.do(ctx, http.MethodPost, "/v1/recover", req, &r)
	return r, err
}

// PeerRestore is POST /v1/peer/restore (secondary to recovering primary).
func (c *Client) PeerRestore(ctx context.Context, req RestoreRequest) (Result, error) {
	var r Result
	err := c.do(ctx, http.MethodPost, "/v1/peer/restore", req, &r)
	return r, err
}
