package webui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/licensing"
)

// The License Summary page: the licenses installed on this appliance, its
// activation, the upload (the same /ui/license post as the Appliances
// page) and, on a primary, its secondary's activation with the seed's
// "Delete Secondary Activation license". The secondary is asked through
// this primary's backend with the secondary's password, pinned to the
// certificate it presents once the operator confirmed it, as the pairing
// form does.

// licenseRow is one installed license file.
type licenseRow struct {
	ID, Feature, Type string
	Count             int
	Expires, Left     string
	// Status is "Valid" or why the license does not count; Tone is its
	// badge (up, warn when it expires within licenseWarnDays, down).
	Status, Tone string
	File         string
}

// serviceRow is one license type of a service in the seed's summary: the
// service's platform limit and usable total show on its first row.
type serviceRow struct {
	Service       string
	First         bool
	Span          int
	PlatformLimit int
	Type          string
	Installed     int
	// Used is what the service may use: its installed total, capped by
	// the platform limit.
	Used int
}

// serviceRows flattens the summary for the table.
func serviceRows(sum licensing.Summary) []serviceRow {
	var rows []serviceRow
	for _, ss := range sum.Services {
		for i, tc := range ss.Types {
			rows = append(rows, serviceRow{Service: strings.ToUpper(string(ss.Service)), First: i == 0, Span: len(ss.Types), PlatformLimit: ss.PlatformLimit,
				Type: tc.Feature.Label(), Installed: tc.Count, Used: ss.Effective})
		}
	}
	return rows
}

// licenseWarnDays is when a license's expiry turns its badge amber (the
// license watcher notifies at the same point).
const licenseWarnDays = 30

type licensesData struct {
	Available  bool
	UDI, Model string
	Activation string
	Rows       []licenseRow
	// Services is the seed's "MSE License Summary" table.
	Services []serviceRow
	Error    string
	// The secondary part (a primary only): its address prefilled from the
	// first peer, the form's values and errors, and the secondary as it
	// last answered.
	CanDeactivate bool
	Peers         []peerView
	Values        map[string]string
	Errors        map[string]string
	FormError     string
	Secondary     *api.IdentityInfo
}

// secondaryFields are the pairing form's inputs that name and reach the
// secondary: the same labels and help, so the two forms say the same.
func secondaryFields() []formField {
	var out []formField
	for _, f := range pairForm() {
		switch f.Name {
		case "secondary_fingerprint":
			// Not about Save: these forms send the password to it at once.
			f.Help = "Check secondary fills in the SHA-256 of the certificate the secondary presents. Compare it with the one on the secondary's own console (Appliances page): the secondary's password goes to that certificate only."
			out = append(out, f)
		case "secondary_ip", "secondary_password":
			out = append(out, f)
		}
	}
	return out
}

// activationBackend is the backend's activation operations, when it has
// them with the secondary's (inspect).
func (s *Server) activationBackend() (api.ActivationBackend, api.SecondaryBackend, bool) {
	ab, ok := s.opt.Backend.(api.ActivationBackend)
	sb, ok2 := s.secondaryBackend()
	return ab, sb, ok && ok2
}

func (s *Server) licensesPage(w http.ResponseWriter, r *http.Request, cur current) {
	s.renderLicenses(w, r, cur, map[string]string{}, formAnswer{})
}

// renderLicenses renders the page with the secondary form's values and
// the answer to its last post.
func (s *Server) renderLicenses(w http.ResponseWriter, r *http.Request, cur current, values map[string]string, a formAnswer) {
	v, err := s.baseView(r, cur, "License Summary", "licenses")
	if err != nil {
		s.fail(w, err)
		return
	}
	d := licensesData{Available: s.opt.Licenses != nil, UDI: v.Self.UDI, Model: v.Self.Profile, Activation: "unknown", Values: values, Secondary: a.secondary}
	if s.opt.Licenses != nil {
		d.Activation = s.activation()
		if d.Rows, err = s.licenseRows(); err != nil {
			d.Error = err.Error()
		}
		if sum, err := s.opt.Licenses.Summary(); err != nil {
			d.Error = err.Error()
		} else {
			d.Services = serviceRows(sum)
		}
	}
	_, _, canDeactivate := s.activationBackend()
	d.CanDeactivate = canDeactivate && v.Self.Role == "primary"
	for _, p := range v.Self.Peers {
		d.Peers = append(d.Peers, viewPeer(p))
	}
	if d.Values["secondary_ip"] == "" && len(d.Peers) > 0 {
		d.Values["secondary_ip"] = d.Peers[0].HIP
	}
	if a.secondary != nil && d.Values["secondary_fingerprint"] == "" {
		d.Values["secondary_fingerprint"] = a.secondary.Fingerprint
	}
	code := http.StatusOK
	if a.err != nil {
		code = api.FromValidation(a.err).Code
		d.Errors, d.FormError = formErrors(a.err, pairFields())
	}
	if a.message != "" {
		v.Flash = a.message
	}
	v.Body = d
	s.render(w, code, "licenses", v)
}

// activation is this appliance's activation status in the seed's words.
func (s *Server) activation() string {
	ok, err := s.opt.Licenses.Activated()
	switch {
	case err != nil:
		return "unknown: " + err.Error()
	case ok:
		return api.StatusActivated
	default:
		return api.StatusNotActivated
	}
}

// licenseRows lists the installed license files as verified now.
func (s *Server) licenseRows() ([]licenseRow, error) {
	all, err := s.opt.Licenses.List()
	if err != nil {
		return nil, err
	}
	today := licensing.Date(s.opt.Now())
	rows := make([]licenseRow, 0, len(all))
	for _, in := range all {
		l := in.License
		row := licenseRow{ID: l.ID, Feature: string(l.Feature), Type: l.Feature.Label(), Count: l.Count, Expires: "never", Left: "permanent", Status: "Valid", Tone: "up", File: in.File}
		if !l.Expires.IsZero() {
			days := int(l.Expires.Sub(today) / (24 * time.Hour))
			row.Expires = l.Expires.Format(time.DateOnly)
			switch {
			case days < 0:
				row.Left = "expired"
			case days == 1:
				row.Left = "1 day"
			default:
				row.Left = fmt.Sprintf("%d days", days)
			}
			if days < licenseWarnDays {
				row.Tone = "warn"
			}
		}
		if in.Err != nil {
			row.Status, row.Tone = in.Err.Error(), "down"
		}
		if row.ID == "" {
			row.ID = "unreadable"
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// secondaryValues keeps what the operator typed in a secondary form
// (License Summary, Recovery), except the passwords.
func secondaryValues(form url.Values) map[string]string {
	return map[string]string{
		"secondary_ip":          strings.TrimSpace(form.Get("secondary_ip")),
		"secondary_fingerprint": strings.TrimSpace(form.Get("secondary_fingerprint")),
	}
}

// licensesInspect is the page's "Check secondary".
func (s *Server) licensesInspect(w http.ResponseWriter, r *http.Request, cur current) {
	values := secondaryValues(r.PostForm)
	_, sb, ok := s.activationBackend()
	if !ok {
		s.renderLicenses(w, r, cur, values, formAnswer{err: api.Errorf(http.StatusNotImplemented, "this appliance cannot ask a secondary")})
		return
	}
	req, err := secondaryRequest(r.PostForm, nil)
	if err == nil {
		var info api.IdentityInfo
		if info, err = sb.InspectSecondary(r.Context(), req.SecondaryRequest); err == nil {
			s.renderLicenses(w, r, cur, values, formAnswer{secondary: &info})
			return
		}
	}
	s.renderLicenses(w, r, cur, values, formAnswer{err: err})
}

// licensesDeactivate is "Delete Secondary Activation license". A request
// that is valid but names no certificate is answered with the one the
// secondary presents, for the operator to confirm, as pairing does.
func (s *Server) licensesDeactivate(w http.ResponseWriter, r *http.Request, cur current) {
	values := secondaryValues(r.PostForm)
	ab, sb, ok := s.activationBackend()
	if !ok {
		s.renderLicenses(w, r, cur, values, formAnswer{err: api.Errorf(http.StatusNotImplemented, "this appliance cannot delete a secondary's license")})
		return
	}
	req, err := api.Decode[api.DeactivateRequest](formJSON(r.PostForm, "secondary_ip", "secondary_password", "secondary_fingerprint"))
	if err != nil {
		s.renderLicenses(w, r, cur, values, s.confirmPin(r, sb, req.SecondaryRequest, values, err, "delete again"))
		return
	}
	res, err := ab.DeactivateSecondary(r.Context(), req)
	if err != nil {
		s.log.Info("secondary activation license delete refused", "secondary", req.SecondaryIP, "err", err)
		s.renderLicenses(w, r, cur, values, formAnswer{err: err})
		return
	}
	s.log.Info("secondary activation license deleted from the console", "secondary", req.SecondaryIP, "result", res.Message)
	s.renderLicenses(w, r, cur, values, formAnswer{secondary: &res.Identity, message: res.Message})
}

// formJSON is the named form fields (trimmed, passwords as typed) as the
// JSON request the API's decoder reads, so that a console form applies
// exactly the API's checks.
func formJSON(form url.Values, names ...string) io.Reader {
	body := map[string]string{}
	for _, k := range names {
		v := form.Get(k)
		if !strings.HasSuffix(k, "_password") {
			v = strings.TrimSpace(v)
		}
		body[k] = v
	}
	data, _ := json.Marshal(body) // strings always encode
	return bytes.NewReader(data)
}

// onlyField reports whether err is the API's refusal of one field alone.
func onlyField(err error, name string) bool {
	var ae *api.Error
	return errors.As(err, &ae) && len(ae.Fields) == 1 && ae.Fields[0].Field == name
}
