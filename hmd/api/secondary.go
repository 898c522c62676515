package api

import (
	"context"
	"net/http"
)

// Activating a virtual secondary from its primary: the seed's
// "Configure High Availability Parameters" form shows the secondary's
// platform UDI and activation status before Save and takes its activation
// license there. The primary asks the secondary's API over TLS with the
// secondary's password (POST /v1/secondary/inspect and /v1/secondary/license
// on the primary; GET /v1/identity and POST /v1/license on the secondary),
// so the operator never needs the secondary's own console.

// MaxLicenseText bounds a license file carried in a request; real ones are
// a few hundred bytes, and MaxBody bounds the whole request anyway.
const MaxLicenseText = 16 << 10

// Activation status texts, the seed's wording.
const (
	StatusActivated    = "Activated"
	StatusNotActivated = "Not Activated"
)

// IdentityInfo is GET /v1/identity: who this appliance is, as the primary's
// form shows its future secondary.
type IdentityInfo struct {
	Name    string `json:"name"`
	HIP     string `json:"hip"`
	Role    string `json:"role"`
	UDI     string `json:"udi"`
	Profile string `json:"profile"`
	Version string `json:"version"`
	// Activation is StatusActivated or StatusNotActivated.
	Activation string `json:"activation"`
	// Fingerprint is the SHA-256 of the API certificate the appliance
	// presented to whoever asked (set by the primary that inspected it):
	// what the operator compares with the appliance's own console before
	// pinning it.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Activated reports whether the appliance holds its activation license.
func (i IdentityInfo) Activated() bool { return i.Activation == StatusActivated }

// SecondaryRequest is POST /v1/secondary/inspect on a primary: the form's
// secondary address and password (and optional certificate pin).
type SecondaryRequest struct {
	SecondaryIP          string `json:"secondary_ip"`
	SecondaryPassword    string `json:"secondary_password"`
	SecondaryFingerprint string `json:"secondary_fingerprint,omitempty"`
}

// SecondaryLicenseRequest is POST /v1/secondary/license on a primary: the
// license file for the secondary, forwarded to it.
type SecondaryLicenseRequest struct {
	SecondaryRequest
	License string `json:"license"`
}

// LicenseRequest is POST /v1/license: a license file this appliance
// verifies against its own UDI and the vendor key before installing it.
type LicenseRequest struct {
	License string `json:"license"`
}

// LicenseResult is the answer to a license installation: what was
// installed and the appliance's identity afterwards.
type LicenseResult struct {
	Message  string       `json:"message"`
	Identity IdentityInfo `json:"identity"`
}

func (r *SecondaryRequest) validate() []FieldError {
	var out []FieldError
	checkAddr("secondary_ip", r.SecondaryIP, true, &out)
	if r.SecondaryPassword == "" {
		out = append(out, FieldError{"secondary_password", "is required"})
	}
	return out
}

func (r *SecondaryLicenseRequest) validate() []FieldError {
	out := r.SecondaryRequest.validate()
	checkLicenseText(r.License, &out)
	return out
}

func (r *LicenseRequest) validate() []FieldError {
	var out []FieldError
	checkLicenseText(r.License, &out)
	return out
}

func checkLicenseText(v string, out *[]FieldError) {
	switch {
	case v == "":
		*out = append(*out, FieldError{"license", "choose a license file"})
	case len(v) > MaxLicenseText:
		*out = append(*out, FieldError{"license", "is larger than a license file can be"})
	}
}

// SecondaryBackend is implemented by a backend that can show and activate
// a future secondary; NewHandler serves the routes below only then.
type SecondaryBackend interface {
	// Identify is this appliance's own identity and activation status.
	Identify(ctx context.Context) (IdentityInfo, error)
	// InstallLicense verifies and installs a license on this appliance;
	// a refused license changes nothing.
	InstallLicense(ctx context.Context, req LicenseRequest) (LicenseResult, error)
	// InspectSecondary asks the secondary named in req for its identity.
	InspectSecondary(ctx context.Context, req SecondaryRequest) (IdentityInfo, error)
	// LicenseSecondary forwards a license to the secondary named in req.
	LicenseSecondary(ctx context.Context, req SecondaryLicenseRequest) (LicenseResult, error)
}

func (h *handler) secondaryRoutes(mux *http.ServeMux, b SecondaryBackend) {
	mux.HandleFunc("GET /v1/identity", h.admin(func(w http.ResponseWriter, r *http.Request) {
		info, err := b.Identify(r.Context())
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.reply(w, info)
	}))
	mux.HandleFunc("POST /v1/license", h.admin(operation[LicenseRequest](h, b.InstallLicense)))
	mux.HandleFunc("POST /v1/secondary/inspect", h.admin(operation[SecondaryRequest](h, b.InspectSecondary)))
	mux.HandleFunc("POST /v1/secondary/license", h.admin(operation[SecondaryLicenseRequest](h, b.LicenseSecondary)))
}

// Identify is GET /v1/identity.
func (c *Client) Identify(ctx context.Context) (IdentityInfo, error) {
	var i IdentityInfo
	err := c.do(ctx, http.MethodGet, "/v1/identity", nil, &i)
	return i, err
}

// InstallLicense is POST /v1/license.
func (c *Client) InstallLicense(ctx context.Context, req LicenseRequest) (LicenseResult, error) {
	var res LicenseResult
	err := c.do(ctx, http.MethodPost, "/v1/license", req, &res)
	return res, err
}

// InspectSecondary is POST /v1/secondary/inspect.
func (c *Client) InspectSecondary(ctx context.Context, req SecondaryRequest) (IdentityInfo, error) {
	var i IdentityInfo
	err := c.do(ctx, http.MethodPost, "/v1/secondary/inspect", req, &i)
	return i, err
}

// LicenseSecondary is POST /v1/secondary/license.
func (c *Client) LicenseSecondary(ctx context.Context, req SecondaryLicenseRequest) (LicenseResult, error) {
	var res LicenseResult
	err := c.do(ctx, http.MethodPost, "/v1/secondary/license", req, &res)
	return res, err
}
