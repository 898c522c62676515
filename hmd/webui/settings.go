package webui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hafw/hafw/hmd/api"
)

// settingsNames are the pairing form's inputs a paired appliance can
// change (api.SettingsRequest), shown with the same labels and help.
var settingsNames = []string{"failover_type", "failback_type", "long_failover_wait", "heartbeat_interval", "witness", "witness_password", "witness_fingerprint"}

// settingsForm is the paired HA configuration page's form.
func settingsForm() []formField {
	return slices.DeleteFunc(pairForm(), func(f formField) bool { return !slices.Contains(settingsNames, f.Name) })
}

// settingsValues are a pair's current settings as the form shows them.
func settingsValues(p api.PeerStatus) map[string]string {
	return map[string]string{
		"failover_type": p.FailoverType, "failback_type": p.FailbackType,
		"long_failover_wait": p.FailoverWait().String(),
		"heartbeat_interval": (time.Duration(p.HeartbeatIntervalMS) * time.Millisecond).String(),
		"witness":            p.Witness,
	}
}

// settingsRequest turns the posted form into the API's SettingsRequest
// through the API's own decoder. Only what the operator changed from cur
// is sent, as an API client would: an interval left as shown must not
// stop a default one from following a new wait, and a witness left as
// shown (its password is never sent back to the browser) stays as it is.
func settingsRequest(form url.Values, peer string, cur map[string]string) (api.SettingsRequest, error) {
	body := map[string]any{"peer": peer}
	for _, k := range settingsNames {
		v, typed := formValue(form, k)
		switch {
		case k == "witness_password" || k == "witness_fingerprint":
			if v != "" {
				body[k] = typed
			}
		case k == "witness":
			if v != cur[k] || form.Get("witness_password") != "" || strings.TrimSpace(form.Get("witness_fingerprint")) != "" {
				body[k] = typed
			}
		case v == cur[k]:
		case k == "heartbeat_interval" && v == "":
			body[k] = 0 // a fifth of the wait
		default:
			body[k] = typed
		}
	}
	data, err := json.Marshal(body)
	if err != nil {
		return api.SettingsRequest{}, fmt.Errorf("encode the form: %w", err)
	}
	return api.Decode[api.SettingsRequest](strings.NewReader(string(data)))
}

// settingsBackend is the backend's settings changes, when it has them.
func (s *Server) settingsBackend() (api.SettingsBackend, bool) {
	sb, ok := s.opt.Backend.(api.SettingsBackend)
	return sb, ok
}

// settings is the paired page's Save: the API's decoder and the backend's
// checks decide, the peer takes the change first, and a refusal is shown
// next to its field with nothing changed on either appliance.
func (s *Server) settings(w http.ResponseWriter, r *http.Request, cur current) {
	v, err := s.baseView(r, cur, "High Availability Configuration", "ha")
	if err != nil {
		s.fail(w, err)
		return
	}
	peer := r.PostForm.Get("peer")
	p, ok := findPeer(v.Self, peer)
	sb, can := s.settingsBackend()
	if !ok || !can {
		s.redirect(w, r, cur, "/ui/ha", "This appliance has no such pair to change.", true)
		return
	}
	req, err := settingsRequest(r.PostForm, p.HealthMonitorIP, settingsValues(p))
	var res api.Result
	if err == nil {
		res, err = sb.UpdateSettings(r.Context(), req)
	}
	if err != nil {
		s.log.Info("console settings refused", "peer", p.HealthMonitorIP, "err", err)
		errs, general := formErrors(err, settingsNames)
		s.renderHA(w, api.FromValidation(err).Code, v, p.HealthMonitorIP, formValues(r.PostForm), errs, general, nil)
		return
	}
	s.log.Info("settings changed from the console", "peer", p.HealthMonitorIP, "result", res.Message)
	s.redirect(w, r, cur, "/ui/ha?peer="+url.QueryEscape(p.HealthMonitorIP), res.Message, false)
}
