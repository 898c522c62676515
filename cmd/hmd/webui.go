package main

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/webui"
	"github.com/hafw/hafw/hwprofiles"
	"github.com/hafw/hafw/licensing"
)

// remoteHandler is the TLS server's handler: the management console under
// webui.Prefix and the API everywhere else, both on the same daemon and
// the same password check.
func remoteHandler(d opsBackend, auth api.Authenticator, lic webui.Licenses, log *slog.Logger) (http.Handler, error) {
	ui, err := webui.New(webui.Options{Backend: d, Auth: auth, Licenses: lic, Log: log})
	if err != nil {
		return nil, fmt.Errorf("management console: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(webui.Prefix, ui)
	d.opsRoutes(mux)
	mux.Handle("/", api.NewHandler(d, auth, log))
	return mux, nil
}

// licenseFiles is this appliance's license directory as the console sees
// it: the activation status pairing also asks for, and uploads verified
// against the vendor key before they are written.
type licenseFiles struct {
	profile hwprofiles.Profile
	udi     licensing.UDI
	keyFile string
	dir     string
	log     *slog.Logger
}

func (l licenseFiles) Activated() (bool, error) {
	return activated(l.profile, l.udi, l.keyFile, l.dir, l.log)
}

func (l licenseFiles) Install(data []byte) (licensing.License, error) {
	pub, err := licensing.ReadPublicKey(l.keyFile)
	if err != nil {
		return licensing.License{}, fmt.Errorf("cannot verify licenses without the vendor key: %w", err)
	}
	return licensing.Store{Dir: l.dir, Pub: pub, UDI: l.udi}.Install(data)
}
