package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/tlsid"
)

// secondaryRecorder adds the secondary operations to the recorder.
type secondaryRecorder struct {
	recorder
	inspected SecondaryRequest
	forwarded SecondaryLicenseRequest
	installed LicenseRequest
}

func (r *secondaryRecorder) Identify(context.Context) (IdentityInfo, error) {
	return IdentityInfo{Name: "mse2", UDI: "AIR-MSE-VA-K9:V01:mse2", Activation: StatusNotActivated}, nil
}

func (r *secondaryRecorder) InstallLicense(_ context.Context, req LicenseRequest) (LicenseResult, error) {
	r.installed = req
	if req.License != "good" {
		return LicenseResult{}, &Error{Code: http.StatusConflict, Message: "refusing license: license is for another machine", Fields: []FieldError{{"license", "refusing license: license is for another machine"}}}
	}
	return LicenseResult{Message: "installed", Identity: IdentityInfo{Activation: StatusActivated}}, nil
}

func (r *secondaryRecorder) InspectSecondary(_ context.Context, req SecondaryRequest) (IdentityInfo, error) {
	r.inspected = req
	return IdentityInfo{Name: "mse2", Activation: StatusActivated}, nil
}

func (r *secondaryRecorder) LicenseSecondary(_ context.Context, req SecondaryLicenseRequest) (LicenseResult, error) {
	r.forwarded = req
	return LicenseResult{Message: "installed on mse2"}, nil
}

func TestSecondaryRoutes(t *testing.T) {
	id, err := tlsid.LoadOrCreate(t.TempDir(), "mse1")
	if err != nil {
		t.Fatal(err)
	}
	hash, err := config.HashPassword("secret-password")
	if err != nil {
		t.Fatal(err)
	}
	rec := &secondaryRecorder{}
	ap := serveTLS(t, rec, id, hash)
	ctx := context.Background()
	var ae *Error

	// Every route needs the appliance password.
	anon := remote(ap, RemoteOptions{})
	for name, call := range map[string]func() error{
		"identity": func() error { _, err := anon.Identify(ctx); return err },
		"license":  func() error { _, err := anon.InstallLicense(ctx, LicenseRequest{License: "good"}); return err },
		"inspect": func() error {
			_, err := anon.InspectSecondary(ctx, SecondaryRequest{SecondaryIP: "10.10.10.13", SecondaryPassword: "pw"})
			return err
		},
		"forward": func() error {
			_, err := anon.LicenseSecondary(ctx, SecondaryLicenseRequest{SecondaryRequest{SecondaryIP: "10.10.10.13", SecondaryPassword: "pw"}, "good"})
			return err
		},
	} {
		if err := call(); !errors.As(err, &ae) || ae.Code != http.StatusUnauthorized {
			t.Errorf("%s without password: %v, want 401", name, err)
		}
	}
	if rec.installed.License != "" || rec.inspected.SecondaryIP != "" || rec.forwarded.License != "" {
		t.Fatal("an unauthenticated request reached the backend")
	}

	c := remote(ap, RemoteOptions{Password: "secret-password"})
	if info, err := c.Identify(ctx); err != nil || info.UDI != "AIR-MSE-VA-K9:V01:mse2" || info.Activated() {
		t.Errorf("identify: %+v %v", info, err)
	}
	// Bad input is refused by the decoder with its field, before the backend.
	_, err = c.InspectSecondary(ctx, SecondaryRequest{SecondaryIP: "10.10.10", SecondaryPassword: ""})
	if !errors.As(err, &ae) || ae.Code != http.StatusBadRequest || len(ae.Fields) != 2 || ae.Fields[0].Field != "secondary_ip" || ae.Fields[1].Field != "secondary_password" {
		t.Errorf("bad inspect: %v", err)
	}
	_, err = c.LicenseSecondary(ctx, SecondaryLicenseRequest{SecondaryRequest{SecondaryIP: "10.10.10.13", SecondaryPassword: "pw"}, strings.Repeat("x", MaxLicenseText+1)})
	if !errors.As(err, &ae) || ae.Code != http.StatusBadRequest || len(ae.Fields) != 1 || ae.Fields[0].Field != "license" {
		t.Errorf("oversize license: %v", err)
	}
	if rec.inspected.SecondaryIP != "" || rec.forwarded.License != "" {
		t.Fatal("bad input reached the backend")
	}
	// The backend's refusal keeps its field.
	_, err = c.InstallLicense(ctx, LicenseRequest{License: "bad"})
	if !errors.As(err, &ae) || ae.Code != http.StatusConflict || len(ae.Fields) != 1 || ae.Fields[0].Field != "license" {
		t.Errorf("refused license: %v", err)
	}
	if res, err := c.InstallLicense(ctx, LicenseRequest{License: "good"}); err != nil || !res.Identity.Activated() {
		t.Errorf("install: %+v %v", res, err)
	}
	if info, err := c.InspectSecondary(ctx, SecondaryRequest{SecondaryIP: "10.10.10.13", SecondaryPassword: "pw"}); err != nil || info.Name != "mse2" || rec.inspected.SecondaryPassword != "pw" {
		t.Errorf("inspect: %+v %v (backend saw %+v)", info, err, rec.inspected)
	}
	if res, err := c.LicenseSecondary(ctx, SecondaryLicenseRequest{SecondaryRequest{SecondaryIP: "10.10.10.13", SecondaryPassword: "pw"}, "good"}); err != nil || res.Message != "installed on mse2" || rec.forwarded.License != "good" || rec.forwarded.SecondaryIP != "10.10.10.13" {
		t.Errorf("forward: %+v %v (backend saw %+v)", res, err, rec.forwarded)
	}
}

// FuzzDecodeSecondary is FuzzDecode for the secondary's requests.
func FuzzDecodeSecondary(f *testing.F) {
	f.Add(byte(0), []byte(`{"secondary_ip":"10.10.10.13","secondary_password":"pw"}`))
	f.Add(byte(1), []byte(`{"secondary_ip":"10.10.10.13","secondary_password":"pw","license":"hafw-license: 1\n"}`))
	f.Add(byte(2), []byte(`{"license":"hafw-license: 1\n"}`))
	f.Fuzz(func(t *testing.T, which byte, data []byte) {
		switch which % 3 {
		case 0:
			roundTrip[SecondaryRequest](t, data)
		case 1:
			roundTrip[SecondaryLicenseRequest](t, data)
		case 2:
			roundTrip[LicenseRequest](t, data)
		}
	})
}
