package webui

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/notify"
)

// The seed's "Trap Destinations" page: the SNMP receivers this appliance
// notifies, a form to add one, and per row "Send test trap" and "Delete".
// Secrets are typed into password inputs and never shown again.

// trapsData is the page's body.
type trapsData struct {
	Available    bool
	EngineID     string
	Destinations []notify.View
	Versions     []string
	Auths, Privs []string
}

func (s *Server) notifyBackend() (api.NotifyBackend, bool) {
	nb, ok := s.opt.Backend.(api.NotifyBackend)
	return nb, ok
}

func (s *Server) trapsPage(w http.ResponseWriter, r *http.Request, cur current) {
	v, err := s.baseView(r, cur, "Trap Destinations", "traps")
	if err != nil {
		s.fail(w, err)
		return
	}
	d := trapsData{Versions: []string{notify.V2c, notify.V3}, Auths: []string{notify.AuthSHA, notify.AuthSHA256}, Privs: []string{notify.PrivAES, notify.PrivAES256}}
	if nb, ok := s.notifyBackend(); ok {
		d.Available, d.EngineID, d.Destinations = true, nb.EngineID(), nb.Destinations()
	}
	v.Body = d
	s.render(w, http.StatusOK, "traps", v)
}

// trapFields are the add form's inputs, named by the API's JSON keys.
var trapFields = []string{"name", "address", "version", "community", "user", "auth_protocol", "auth_key", "priv_protocol", "priv_key"}

// trapAdd saves the form through the API's strict decoder, so the console
// applies exactly the API's checks.
func (s *Server) trapAdd(w http.ResponseWriter, r *http.Request, cur current) {
	nb, ok := s.notifyBackend()
	if !ok {
		s.redirect(w, r, cur, "/ui/traps", "Trap destinations are not available on this appliance.", true)
		return
	}
	body := map[string]any{"inform": r.PostForm.Get("inform") == "on"}
	for _, k := range trapFields {
		v := r.PostForm.Get(k)
		if !strings.HasSuffix(k, "_key") && k != "community" {
			v = strings.TrimSpace(v) // secrets are taken as typed
		}
		if v != "" {
			body[k] = v
		}
	}
	if body["version"] != notify.V3 {
		delete(body, "auth_protocol")
		delete(body, "priv_protocol")
	}
	data, err := json.Marshal(body)
	if err != nil {
		s.fail(w, err)
		return
	}
	d, err := api.Decode[api.TrapDestination](bytes.NewReader(data))
	if err == nil {
		err = nb.PutDestination(notify.Destination(d))
	}
	if err != nil {
		s.redirect(w, r, cur, "/ui/traps", "Trap destination not saved: "+api.FromValidation(err).Error(), true)
		return
	}
	s.log.Info("trap destination saved from the console", "name", d.Name, "address", d.Address)
	s.redirect(w, r, cur, "/ui/traps", "Trap destination "+d.Name+" saved.", false)
}

func (s *Server) trapDelete(w http.ResponseWriter, r *http.Request, cur current) {
	s.trapAction(w, r, cur, "deleted", func(nb api.NotifyBackend, name string) error { return nb.DeleteDestination(name) })
}

// trapTest is the "Send test trap" button: the answer (an inform's
// acknowledgement, or the reason it failed) is shown on the page.
func (s *Server) trapTest(w http.ResponseWriter, r *http.Request, cur current) {
	s.trapAction(w, r, cur, "sent a test notification", func(nb api.NotifyBackend, name string) error { return nb.Test(r.Context(), name) })
}

func (s *Server) trapAction(w http.ResponseWriter, r *http.Request, cur current, done string, do func(api.NotifyBackend, string) error) {
	nb, ok := s.notifyBackend()
	if !ok {
		s.redirect(w, r, cur, "/ui/traps", "Trap destinations are not available on this appliance.", true)
		return
	}
	name := r.PostForm.Get("name")
	if err := do(nb, name); err != nil {
		s.redirect(w, r, cur, "/ui/traps", "Trap destination "+name+": "+err.Error(), true)
		return
	}
	s.redirect(w, r, cur, "/ui/traps", "Trap destination "+name+" "+done+".", false)
}
