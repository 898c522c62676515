package webui

import (
	"net/http"

	"github.com/hafw/hafw/appliance"
	"github.com/hafw/hafw/hmd/api"
)

// The Recovery page, the seed's "restore the configuration from the
// Secondary": a primary that lost its configuration and booted in recovery
// mode asks its secondary to push the pairing back. The operator names the
// secondary and its password; Check secondary (or a Restore without one)
// fills in the certificate the secondary presents, which the operator
// compares with the secondary's own console before Restore, as on the
// pairing form. This appliance's password goes with it: the secondary
// presents it to restore the configuration here.

// recoveryData is the page's body.
type recoveryData struct {
	// Available: the backend can ask a secondary for a restore.
	Available  bool
	InRecovery bool
	// Role is why this appliance holds the role it does, for the page
	// outside recovery mode.
	Role      string
	Values    map[string]string
	Errors    map[string]string
	FormError string
	Secondary *api.IdentityInfo
	// Restored is the secondary's answer after a restore.
	Restored string
}

// recoveryFields are the secondary's fields of the pairing form and this
// appliance's own password.
func recoveryFields() []formField {
	return append(secondaryFields(), formField{Name: "primary_password", Label: "This appliance's password", Type: "password", Auto: "current-password",
		Help: "The secondary presents it to this appliance to restore the configuration: it is the one credential the two still share."})
}

func recoveryFieldNames() []string {
	var names []string
	for _, f := range recoveryFields() {
		names = append(names, f.Name)
	}
	return names
}

func (s *Server) recoveryBackend() (api.RecoveryRequester, api.SecondaryBackend, bool) {
	rr, ok := s.opt.Backend.(api.RecoveryRequester)
	sb, ok2 := s.secondaryBackend()
	return rr, sb, ok && ok2
}

func (s *Server) recoveryPage(w http.ResponseWriter, r *http.Request, cur current) {
	v, err := s.baseView(r, cur, "Recovery", "recovery")
	if err != nil {
		s.fail(w, err)
		return
	}
	s.renderRecovery(w, v, map[string]string{}, formAnswer{})
}

// renderRecovery renders the page in v (read before the request ran: a
// restore restarts the health monitor, which may no longer answer).
func (s *Server) renderRecovery(w http.ResponseWriter, v view, values map[string]string, a formAnswer) {
	_, _, ok := s.recoveryBackend()
	d := recoveryData{Available: ok, InRecovery: v.Self.RoleReason == appliance.Recovery.String(), Role: v.Self.RoleReason, Values: values, Secondary: a.secondary}
	if a.secondary != nil && d.Values["secondary_fingerprint"] == "" {
		d.Values["secondary_fingerprint"] = a.secondary.Fingerprint
	}
	code := http.StatusOK
	if a.err != nil {
		code = api.FromValidation(a.err).Code
		d.Errors, d.FormError = formErrors(a.err, recoveryFieldNames())
	}
	if a.message != "" {
		d.Restored = a.message
	}
	v.Body = d
	s.render(w, code, "recovery", v)
}

// recoveryInspect is the page's Check secondary.
func (s *Server) recoveryInspect(w http.ResponseWriter, r *http.Request, cur current) {
	v, err := s.baseView(r, cur, "Recovery", "recovery")
	if err != nil {
		s.fail(w, err)
		return
	}
	_, sb, ok := s.recoveryBackend()
	if !ok {
		s.renderRecovery(w, v, secondaryValues(r.PostForm), formAnswer{err: api.Errorf(http.StatusNotImplemented, "this appliance cannot ask a secondary for a restore")})
		return
	}
	req, err := secondaryRequest(r.PostForm, nil)
	if err == nil {
		var info api.IdentityInfo
		if info, err = sb.InspectSecondary(r.Context(), req.SecondaryRequest); err == nil {
			s.renderRecovery(w, v, secondaryValues(r.PostForm), formAnswer{secondary: &info})
			return
		}
	}
	s.renderRecovery(w, v, secondaryValues(r.PostForm), formAnswer{err: err})
}

// recoveryRestore is Restore: the API's decoder checks the form, a form
// without the secondary's certificate gets the one it presents to
// confirm, and the backend asks the secondary.
func (s *Server) recoveryRestore(w http.ResponseWriter, r *http.Request, cur current) {
	v, err := s.baseView(r, cur, "Recovery", "recovery")
	if err != nil {
		s.fail(w, err)
		return
	}
	values := secondaryValues(r.PostForm)
	rr, sb, ok := s.recoveryBackend()
	if !ok {
		s.renderRecovery(w, v, values, formAnswer{err: api.Errorf(http.StatusNotImplemented, "this appliance cannot ask a secondary for a restore")})
		return
	}
	req, err := api.Decode[api.RecoverFromRequest](formJSON(r.PostForm, recoveryFieldNames()...))
	if err != nil {
		s.renderRecovery(w, v, values, s.confirmPin(r, sb, req.SecondaryRequest, values, err, "Restore again"))
		return
	}
	res, err := rr.RecoverFromSecondary(r.Context(), req)
	if err != nil {
		s.log.Info("restore from the secondary refused", "secondary", req.SecondaryIP, "err", err)
		s.renderRecovery(w, v, values, formAnswer{err: err})
		return
	}
	s.log.Info("configuration restored from the secondary through the console", "secondary", req.SecondaryIP, "result", res.Message)
	s.renderRecovery(w, v, values, formAnswer{message: res.Message})
}

// confirmPin answers a form the API's decoder refused. When the only
// reason is that it names no certificate for the secondary, the secondary
// is asked for the one it presents, which the form then shows for the
// operator to compare and confirm, with the pairing form's reason.
func (s *Server) confirmPin(r *http.Request, sb api.SecondaryBackend, req api.SecondaryRequest, values map[string]string, err error, again string) formAnswer {
	if values["secondary_fingerprint"] != "" || !onlyField(err, "secondary_fingerprint") {
		return formAnswer{err: err}
	}
	info, ierr := sb.InspectSecondary(r.Context(), req)
	if ierr != nil {
		return formAnswer{err: ierr}
	}
	return formAnswer{secondary: &info, err: api.Invalid(api.FieldError{Field: "secondary_fingerprint",
		Reason: "confirm the secondary's certificate: the fingerprint filled in here is what it presents now; compare it with the one on its console's Appliances page, then " + again})}
}
