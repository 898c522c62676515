package webui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/ha"
)

// applianceRow is one line of the seed's "Mobility Services Engines" list.
type applianceRow struct {
	Name, Type, IP, Version, Reachability, Role, State string
	// Secondary is the secondary's name on a primary's row ("" when none).
	Secondary, SecondaryHIP string
	// Configure offers "click here to configure" (a primary without peers).
	Configure bool
	Self      bool
}

type appliancesData struct {
	Rows []applianceRow
	// Activation of this appliance and the upload form.
	Activation    string
	NeedsLicense  bool
	LicenseUpload bool
}

func (s *Server) appliances(w http.ResponseWriter, r *http.Request, cur current) {
	v, err := s.baseView(r, cur, "Mobility Services Engines", "appliances")
	if err != nil {
		s.fail(w, err)
		return
	}
	st := v.Self
	self := applianceRow{Name: st.Hostname, Type: st.Profile, IP: st.HealthMonitorIP, Version: st.Version,
		Reachability: "Reachable", Role: st.Role, State: st.State, Self: true}
	var rows []applianceRow
	for _, p := range st.Peers {
		pv := viewPeer(p)
		row := applianceRow{Name: p.Name, Type: p.Profile, IP: p.HealthMonitorIP, Version: p.Version, Reachability: pv.Reachability, State: pv.PeerState}
		if st.Role == "primary" {
			row.Role = "secondary"
			if self.Secondary == "" {
				self.Secondary, self.SecondaryHIP = p.Name, p.HealthMonitorIP
			}
		} else {
			row.Role = "primary"
			row.Secondary, row.SecondaryHIP = st.Hostname, st.HealthMonitorIP
		}
		rows = append(rows, row)
	}
	self.Configure = st.Role == "primary" && len(st.Peers) == 0
	d := appliancesData{Rows: append([]applianceRow{self}, rows...), LicenseUpload: s.opt.Licenses != nil, Activation: "unknown"}
	if s.opt.Licenses != nil {
		d.Activation = s.activation()
		d.NeedsLicense = d.Activation == api.StatusNotActivated
	}
	v.Body = d
	s.render(w, http.StatusOK, "appliances", v)
}

// haData is the HA configuration page: the pairing form on an unpaired
// primary, the peer's configuration and the operations otherwise.
type haData struct {
	Peers    []peerView
	Selected *peerView
	// Form state of "Configure High Availability Parameters".
	CanPair bool
	Values  map[string]string
	Errors  map[string]string
	Error   string
	// Secondary is the future secondary as it answered "Check secondary"
	// (nil before); CanActivate offers the check and the license upload.
	Secondary   *api.IdentityInfo
	CanActivate bool
	// CanEdit offers the paired page's settings form (Values and Errors
	// are then its state).
	CanEdit bool
}

func (s *Server) haPage(w http.ResponseWriter, r *http.Request, cur current) {
	v, err := s.baseView(r, cur, "High Availability Configuration", "ha")
	if err != nil {
		s.fail(w, err)
		return
	}
	s.renderHA(w, http.StatusOK, v, r.URL.Query().Get("peer"), defaultPairValues(), nil, "", nil)
}

func defaultPairValues() map[string]string {
	return map[string]string{"failover_type": api.Automatic, "failback_type": api.Manual, "long_failover_wait": "10"}
}

func (s *Server) renderHA(w http.ResponseWriter, code int, v view, peer string, values, errs map[string]string, general string, secondary *api.IdentityInfo) {
	_, canActivate := s.secondaryBackend()
	d := haData{CanPair: v.Self.Role == "primary" && len(v.Self.Peers) == 0, Values: values, Errors: errs, Error: general, Secondary: secondary, CanActivate: canActivate}
	for _, p := range v.Self.Peers {
		d.Peers = append(d.Peers, viewPeer(p))
	}
	p, ok := findPeer(v.Self, peer)
	if !ok && len(v.Self.Peers) > 0 {
		p, ok = v.Self.Peers[0], true
	}
	if ok {
		pv := viewPeer(p)
		d.Selected = &pv
		_, d.CanEdit = s.settingsBackend()
		if errs == nil {
			d.Values = settingsValues(p)
		}
	}
	v.Body = d
	s.render(w, code, "ha", v)
}

// pair is the form's Save: the API's decoder checks the input, the backend
// pairs (version, matrix, activation, subnet checks happen there), and any
// refusal is shown next to its field.
func (s *Server) pair(w http.ResponseWriter, r *http.Request, cur current) {
	req, err := pairRequest(r.PostForm)
	if err != nil && !unpinnedOnly(req, err) {
		// Invalid input: nothing may be sent anywhere.
		s.renderForm(w, r, cur, formAnswer{err: err})
		return
	}
	if err != nil {
		// Valid but unpinned. Ask the secondary first: a wrong password or
		// an unreachable secondary is what the operator must fix before
		// any certificate can be confirmed.
		a := s.withSecondary(r, req, pinReasons(req))
		if a.secondary == nil && a.inspectErr != nil {
			a.err = a.inspectErr
		}
		s.renderForm(w, r, cur, a)
		return
	}
	res, err := s.opt.Backend.Pair(r.Context(), req)
	if err != nil {
		s.renderForm(w, r, cur, s.withSecondary(r, req, err))
		return
	}
	s.log.Info("paired from the console", "secondary", req.SecondaryIP, "result", res.Message)
	s.redirect(w, r, cur, "/ui/status?peer="+url.QueryEscape(req.SecondaryIP), res.Message, false)
}

// withSecondary is the answer to a valid Save that was refused: after it
// the form shows the secondary's UDI, activation status and certificate
// fingerprint (the seed's shows the first two), when the secondary can be
// asked.
func (s *Server) withSecondary(r *http.Request, req api.PairRequest, err error) formAnswer {
	a := formAnswer{err: err}
	sb, ok := s.secondaryBackend()
	if !ok {
		return a
	}
	info, ierr := sb.InspectSecondary(r.Context(), api.SecondaryRequest{SecondaryIP: req.SecondaryIP, SecondaryPassword: req.SecondaryPassword, SecondaryFingerprint: req.SecondaryFingerprint})
	if ierr != nil {
		a.inspectErr = ierr
		return a
	}
	a.secondary = &info
	return a
}

// unpinnedOnly reports whether the API's decoder refused the form only
// because it names no certificate for the secondary or the witness (the
// API requires them unless told to trust on first use, which the console
// never asks for). That Save is answered with what the secondary presents,
// for the operator to confirm.
func unpinnedOnly(req api.PairRequest, err error) bool {
	var ae *api.Error
	if !errors.As(err, &ae) || len(ae.Fields) == 0 {
		return false
	}
	for _, f := range ae.Fields {
		switch {
		case f.Field == "secondary_fingerprint" && req.SecondaryFingerprint == "":
		case f.Field == "witness_fingerprint" && req.WitnessFingerprint == "":
		default:
			return false
		}
	}
	return true
}

// pinReasons words the API's refusal of an unpinned pairing for the
// console: the operator is told to confirm what Check secondary (or a
// refused Save) showed, so that an impostor at the secondary's address is
// not handed the secondary's password, the pairing secret and the witness
// password.
func pinReasons(req api.PairRequest) error {
	var bad []api.FieldError
	if req.SecondaryFingerprint == "" {
		bad = append(bad, api.FieldError{Field: "secondary_fingerprint", Reason: "confirm the secondary's certificate: the fingerprint filled in here is what it presents now; compare it with its console's Appliances page and Save again"})
	}
	if req.Witness != "" && req.WitnessFingerprint == "" {
		bad = append(bad, api.FieldError{Field: "witness_fingerprint", Reason: "the witness's certificate fingerprint, from its console's Appliances page, is needed with a witness"})
	}
	return api.Invalid(bad...)
}

// opButton is one of the Switchover, Failback and Delete forms. Off is
// why the operation does not apply in the pair's state now ("" when it
// does): the button is shown disabled with the reason, not offered.
type opButton struct {
	Action, Label, Confirm, CSRF, Peer, Off string
}

func newOpButton(v view, p peerView, action, label, confirm string) opButton {
	b := opButton{Action: action, Label: label, Confirm: confirm, CSRF: v.CSRF, Peer: p.HIP}
	switch st := ha.State(p.State); action {
	case "switchover":
		if st != ha.PrimaryActive && st != ha.SecondaryActive {
			b.Off = fmt.Sprintf("Switchover is for a pair in its steady states; this appliance is %s.", st)
		}
	case "failback":
		if st != ha.Terminated && st != ha.FailoverActive {
			b.Off = fmt.Sprintf("Failback follows a failover (TERMINATED or FAILOVER_ACTIVE); this appliance is %s.", st)
		}
	}
	return b
}

// An op is one of the backend's peer operations, as a method expression
// (api.Backend.Switchover, …).
type op func(b api.Backend, ctx context.Context, req api.PeerRequest) (api.Result, error)

// operation posts Switchover, Failback or Delete for the form's peer and
// shows the backend's answer (or refusal, e.g. the stabilization window)
// on the next page: the status page to watch the states change, or done
// when set (Delete goes back to the pairing form).
func (s *Server) operation(name string, do op, done string) func(http.ResponseWriter, *http.Request, current) {
	return func(w http.ResponseWriter, r *http.Request, cur current) {
		peer := r.PostForm.Get("peer")
		back := "/ui/status?peer=" + url.QueryEscape(peer)
		body, err := json.Marshal(api.PeerRequest{Peer: peer, Force: r.PostForm.Get("force") == "on"})
		if err != nil {
			s.fail(w, err)
			return
		}
		req, err := api.Decode[api.PeerRequest](bytes.NewReader(body))
		var res api.Result
		if err == nil {
			res, err = do(s.opt.Backend, r.Context(), req)
		}
		if err != nil {
			s.log.Info("console operation refused", "op", name, "peer", peer, "err", err)
			s.redirect(w, r, cur, back, refusal(name, err), true)
			return
		}
		s.log.Info("console operation", "op", name, "peer", peer, "result", res.Message)
		if done != "" {
			back = done
		}
		s.redirect(w, r, cur, back, res.Message, false)
	}
}

// statusData is "Current High Availability Status" for one peer.
type statusData struct {
	Peers    []peerView
	Selected *peerView
	Events   []eventView
	// Apps are the monitored applications of this appliance (the page
	// shows them as loaded; the live poll refreshes the HA rows).
	Apps []api.AppStatus
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request, cur current) {
	v, err := s.baseView(r, cur, "Current High Availability Status", "status")
	if err != nil {
		s.fail(w, err)
		return
	}
	d := statusData{Apps: v.Self.Applications}
	for _, p := range v.Self.Peers {
		d.Peers = append(d.Peers, viewPeer(p))
	}
	peer := r.URL.Query().Get("peer")
	if p, ok := findPeer(v.Self, peer); ok {
		pv := viewPeer(p)
		d.Selected, peer = &pv, p.HealthMonitorIP
	} else if len(d.Peers) > 0 {
		d.Selected, peer = &d.Peers[0], d.Peers[0].HIP
	}
	evs, err := s.opt.Backend.Events(r.Context(), peer, eventsShown)
	if err != nil {
		s.fail(w, err)
		return
	}
	d.Events = viewEvents(evs)
	v.Body = d
	s.render(w, http.StatusOK, "status", v)
}

func (s *Server) n1Page(w http.ResponseWriter, r *http.Request, cur current) {
	v, err := s.baseView(r, cur, "High Availability (N:1)", "n1")
	if err != nil {
		s.fail(w, err)
		return
	}
	var peers []peerView
	for _, p := range v.Self.Peers {
		peers = append(peers, viewPeer(p))
	}
	v.Body = peers
	s.render(w, http.StatusOK, "n1", v)
}

// liveJSON is what the pages' script polls. Unlike the pages it answers an
// unauthenticated request with 401, not a redirect, so the script can tell
// the operator the session ended.
func (s *Server) liveJSON(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authenticate(w, r); !ok {
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	st, err := s.opt.Backend.Status(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	peer := r.URL.Query().Get("peer")
	if p, ok := findPeer(st, peer); ok {
		peer = p.HealthMonitorIP
	} else {
		peer = ""
	}
	evs, err := s.opt.Backend.Events(r.Context(), peer, eventsShown)
	if err != nil {
		s.fail(w, api.FromValidation(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(viewLive(st, evs, s.opt.Now())); err != nil {
		s.log.Debug("write live status", "err", err)
	}
}

// refusal is the console's line for a refused operation: the daemon's
// reason, prefixed with "<name> refused" unless it says so already.
func refusal(name string, err error) string {
	msg := api.FromValidation(err).Error()
	if strings.HasPrefix(strings.ToLower(msg), strings.ToLower(name)+" refused") {
		return strings.ToUpper(msg[:1]) + msg[1:]
	}
	return name + " refused: " + msg
}
