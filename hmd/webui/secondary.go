package webui

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/hafw/hafw/hmd/api"
)

// The seed's form shows the secondary's platform UDI and activation status
// before Save and takes the secondary's Virtual Appliance license right
// there ("Activate Secondary with License [Browse]"). "Check secondary" and
// the license upload post the same pairing form to the routes below; the
// primary's backend asks the secondary's API, and the secondary verifies
// the license against its own UDI. Like Save, the input goes through the
// API's decoder, so the checks are the API's.

// secondaryRequest decodes the form's secondary address and password (and
// a license file's text, when given) as the API's request.
func secondaryRequest(form url.Values, license *string) (api.SecondaryLicenseRequest, error) {
	body := map[string]any{
		"secondary_ip":       strings.TrimSpace(form.Get("secondary_ip")),
		"secondary_password": form.Get("secondary_password"),
	}
	if license == nil {
		data, err := json.Marshal(body)
		if err != nil {
			return api.SecondaryLicenseRequest{}, fmt.Errorf("encode the form: %w", err)
		}
		req, err := api.Decode[api.SecondaryRequest](strings.NewReader(string(data)))
		return api.SecondaryLicenseRequest{SecondaryRequest: req}, err
	}
	body["license"] = *license
	data, err := json.Marshal(body)
	if err != nil {
		return api.SecondaryLicenseRequest{}, fmt.Errorf("encode the form: %w", err)
	}
	return api.Decode[api.SecondaryLicenseRequest](strings.NewReader(string(data)))
}

// secondaryBackend is the backend's secondary operations, when it has them.
func (s *Server) secondaryBackend() (api.SecondaryBackend, bool) {
	sb, ok := s.opt.Backend.(api.SecondaryBackend)
	return sb, ok
}

// formValues keeps what the operator typed, except passwords, for the
// re-rendered form.
func formValues(form url.Values) map[string]string {
	values := map[string]string{}
	for _, f := range pairForm() {
		if f.Type != "password" {
			values[f.Name] = form.Get(f.Name)
		}
	}
	return values
}

// formAnswer is what a post of the pairing form shows on the re-rendered
// form: the secondary's identity, field errors, a general error or a
// message.
type formAnswer struct {
	secondary *api.IdentityInfo
	err       error
	message   string
	// inspectErr is why the secondary could not be asked (withSecondary).
	inspectErr error
}

// renderForm re-renders the HA page with the posted form and its answer.
func (s *Server) renderForm(w http.ResponseWriter, r *http.Request, cur current, a formAnswer) {
	v, err := s.baseView(r, cur, "High Availability Configuration", "ha")
	if err != nil {
		s.fail(w, err)
		return
	}
	code := http.StatusOK
	var errs map[string]string
	var general string
	if a.err != nil {
		code = api.FromValidation(a.err).Code
		errs, general = formErrors(a.err, append(pairFields(), "license"))
	}
	if a.message != "" {
		v.Flash = a.message
	}
	values := formValues(r.PostForm)
	if a.secondary != nil && values["secondary_fingerprint"] == "" {
		// What the secondary presented, for the operator to compare and
		// confirm with the next Save.
		values["secondary_fingerprint"] = a.secondary.Fingerprint
	}
	s.renderHA(w, code, v, "", values, errs, general, a.secondary)
}

// inspect is the form's "Check secondary": the secondary's UDI, model,
// version and activation status, read by the primary from the secondary.
func (s *Server) inspect(w http.ResponseWriter, r *http.Request, cur current) {
	sb, ok := s.secondaryBackend()
	if !ok {
		s.renderForm(w, r, cur, formAnswer{err: api.Errorf(http.StatusNotImplemented, "this appliance cannot inspect a secondary")})
		return
	}
	req, err := secondaryRequest(r.PostForm, nil)
	if err != nil {
		s.renderForm(w, r, cur, formAnswer{err: err})
		return
	}
	info, err := sb.InspectSecondary(r.Context(), req.SecondaryRequest)
	if err != nil {
		s.renderForm(w, r, cur, formAnswer{err: err})
		return
	}
	s.renderForm(w, r, cur, formAnswer{secondary: &info})
}

// secondaryLicense is the form's "Activate Secondary with License": the
// uploaded file goes to the secondary through this primary.
func (s *Server) secondaryLicense(w http.ResponseWriter, r *http.Request, cur current) {
	sb, ok := s.secondaryBackend()
	if !ok {
		s.renderForm(w, r, cur, formAnswer{err: api.Errorf(http.StatusNotImplemented, "this appliance cannot activate a secondary")})
		return
	}
	var text string
	if f, _, err := r.FormFile("license"); err == nil {
		data, rerr := io.ReadAll(io.LimitReader(f, maxLicense))
		f.Close()
		if rerr != nil {
			s.renderForm(w, r, cur, formAnswer{err: api.Invalid(api.FieldError{Field: "license", Reason: "could not be read: " + rerr.Error()})})
			return
		}
		text = string(data)
	}
	req, err := secondaryRequest(r.PostForm, &text)
	if err != nil {
		s.renderForm(w, r, cur, formAnswer{err: err})
		return
	}
	res, err := sb.LicenseSecondary(r.Context(), req)
	if err != nil {
		// Show the secondary as it is, so the operator sees it unchanged.
		a := formAnswer{err: err}
		if info, ierr := sb.InspectSecondary(r.Context(), req.SecondaryRequest); ierr == nil {
			a.secondary = &info
		}
		s.renderForm(w, r, cur, a)
		return
	}
	s.log.Info("secondary license installed from the console", "secondary", req.SecondaryIP, "result", res.Message)
	s.renderForm(w, r, cur, formAnswer{secondary: &res.Identity, message: res.Message})
}
