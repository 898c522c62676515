package webui

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hafw/hafw/hmd/api"
)

// The Firmware page: both boot slots, and the upload of a signed update
// bundle into the inactive one. app.js sends the form itself so that the
// page shows a progress bar for the upload and then for the appliance's
// verify and write (the API's JSON lines); without script the form posts
// as usual and the page comes back with the result.

// firmwareData is the page's body.
type firmwareData struct {
	Available bool
	Status    api.UpgradeStatus
	Error     string
}

func (s *Server) upgradeBackend() (api.UpgradeBackend, bool) {
	ub, ok := s.opt.Backend.(api.UpgradeBackend)
	return ub, ok
}

func (s *Server) firmwarePage(w http.ResponseWriter, r *http.Request, cur current) {
	v, err := s.baseView(r, cur, "Firmware", "firmware")
	if err != nil {
		s.fail(w, err)
		return
	}
	var d firmwareData
	if ub, ok := s.upgradeBackend(); ok {
		d.Available = true
		if d.Status, err = ub.UpgradeStatus(r.Context()); err != nil {
			d.Error = api.UpgradeError(err).Message
		}
	}
	v.Body = d
	s.render(w, http.StatusOK, "firmware", v)
}

// firmwareUpgrade reads the upload form as a stream (the bundle is tens of
// MiB: it goes to the upload directory, not to memory), checks the CSRF
// token before it stores a byte of the bundle, and installs it. A request
// that accepts JSON lines (app.js) gets the progress; a plain form post a
// redirect with the result.
func (s *Server) firmwareUpgrade(w http.ResponseWriter, r *http.Request) {
	cur, ok := s.authenticate(w, r)
	if !ok {
		http.Error(w, "authentication required: log in with the appliance password", http.StatusUnauthorized)
		return
	}
	ub, ok := s.upgradeBackend()
	if !ok {
		http.Error(w, "firmware upgrades are not available on this appliance", http.StatusNotFound)
		return
	}
	api.AllowUpload(w)
	r.Body = http.MaxBytesReader(w, r.Body, api.MaxBundle+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		http.Error(w, "the form could not be read: "+err.Error(), http.StatusBadRequest)
		return
	}
	var req api.UpgradeRequest
	var path, csrf string
	defer func() {
		if path != "" {
			os.Remove(path)
		}
	}()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			http.Error(w, "the form could not be read: "+err.Error(), http.StatusBadRequest)
			return
		}
		switch part.FormName() {
		case "csrf":
			csrf = small(part)
		case "reboot":
			if small(part) == "now" {
				req.Reboot = time.Now()
			}
		case "allow_downgrade":
			req.AllowDowngrade = small(part) == "on"
		case "bundle":
			if !s.sessions.checkCSRF(cur.id, csrf) {
				http.Error(w, "the form is stale or was not sent by this console (CSRF token mismatch); reload the page and try again", http.StatusForbidden)
				return
			}
			if path != "" {
				http.Error(w, "one update bundle at a time", http.StatusBadRequest)
				return
			}
			if path, err = api.ReceiveBundle(part, ub.UploadDir()); err != nil {
				ae := api.FromValidation(err)
				http.Error(w, ae.Message, ae.Code)
				return
			}
		}
	}
	if path == "" {
		s.redirect(w, r, cur, "/ui/firmware", "Choose an update bundle (hafw-<profile>-<version>.update) first.", true)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "application/x-ndjson") {
		api.StreamInstall(r.Context(), w, ub, req, path, s.log)
		return
	}
	res, err := ub.InstallUpgrade(r.Context(), req, path, nil)
	if err != nil {
		s.redirect(w, r, cur, "/ui/firmware", "Update refused: "+api.UpgradeError(err).Message, true)
		return
	}
	s.redirect(w, r, cur, "/ui/firmware", res.Message, false)
}

// small reads a short form field.
func small(p *multipart.Part) string {
	b, _ := io.ReadAll(io.LimitReader(p, 256))
	return strings.TrimSpace(string(b))
}
