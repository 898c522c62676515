package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/hafw/hafw/appliance"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/webui"
	"github.com/hafw/hafw/licensing"
)

// newConsole builds the management console on the daemon and the API's
// password check. A password change ends every console session: whoever
// logged in with the old password logs in again.
func newConsole(d opsBackend, lic webui.Licenses, log *slog.Logger) (*webui.Server, error) {
	ui, err := webui.New(webui.Options{Backend: d, Auth: d.password, Licenses: lic, Log: log})
	if err != nil {
		return nil, fmt.Errorf("management console: %w", err)
	}
	d.password.OnChange(ui.EndSessions)
	return ui, nil
}

// remoteHandler is the TLS server's handler: the management console
// (d.console) under webui.Prefix and the API everywhere else, both on the
// same daemon and the same password check.
func remoteHandler(d opsBackend, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(webui.Prefix, d.console)
	// A browser pointed at the appliance's address lands on the console.
	mux.Handle("GET /{$}", http.RedirectHandler(webui.Prefix, http.StatusSeeOther))
	d.opsRoutes(mux)
	mux.Handle("/", api.NewHandler(d, d.password, log))
	return mux
}

// licenseFiles is this appliance's license directory for its identity
// (package appliance): the activation status pairing and the console ask
// for, and uploads verified against the vendor key before they are
// written.
type licenseFiles struct {
	id    appliance.Identity
	files appliance.LicenseFiles
}

// entitlement verifies the installed licenses now; an appliance without
// identity has none. The ignored files are in its Problems (logged at
// start, notified by the license watcher), not logged at every call.
func (l licenseFiles) entitlement() (appliance.Entitlement, error) {
	if l.id.Profile.Model == "" {
		return appliance.Entitlement{}, nil
	}
	return l.files.Load(l.id)
}

// Activated implements webui.Licenses.
func (l licenseFiles) Activated() (bool, error) {
	e, err := l.entitlement()
	return e.Activated(), err
}

// Install implements webui.Licenses and daemon.LicenseInstaller.
func (l licenseFiles) Install(data []byte) (licensing.License, error) {
	if l.id.Profile.Model == "" {
		return licensing.License{}, errors.New("this appliance's identity is unknown: no license can be bound to it")
	}
	s, err := l.files.Store(l.id)
	if err != nil {
		return licensing.License{}, fmt.Errorf("cannot verify licenses without the vendor key: %w", err)
	}
	return s.Install(data)
}

// RemoveActivation implements the daemon's RemoveActivation.
func (l licenseFiles) RemoveActivation() ([]licensing.License, error) {
	if l.id.Profile.Model == "" {
		return nil, nil
	}
	s, err := l.files.Store(l.id)
	if err != nil {
		return nil, fmt.Errorf("cannot read licenses without the vendor key: %w", err)
	}
	return s.RemoveFeature(licensing.Activation)
}

// List implements webui.Licenses: the installed files, each verified
// against this appliance's UDI and the vendor key now.
func (l licenseFiles) List() ([]licensing.Installed, error) {
	if l.id.Profile.Model == "" {
		return nil, nil
	}
	s, err := l.files.Store(l.id)
	if err != nil {
		return nil, fmt.Errorf("cannot verify licenses without the vendor key: %w", err)
	}
	return s.List()
}

// Summary implements webui.Licenses: the valid licenses against this
// model's platform limits.
func (l licenseFiles) Summary() (licensing.Summary, error) {
	e, err := l.entitlement()
	return e.Summary, err
}
