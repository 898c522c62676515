package webui

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hafw/hafw/hmd/api"
)

// futureSecondary is the unlicensed VA secondary the fake primary reaches.
func futureSecondary() api.IdentityInfo {
	return api.IdentityInfo{Name: "mse2", HIP: "10.201.0.3", Role: "secondary", UDI: "VA-LOW:V01:mse2", Profile: "VA-Low", Version: "1.0", Activation: api.StatusNotActivated, Fingerprint: testFingerprint}
}

// wrongPassword is what the primary's backend answers when the secondary
// refuses the password (daemon.relay).
var wrongPassword = &api.Error{Code: http.StatusConflict, Message: "the secondary refused the password",
	Fields: []api.FieldError{{Field: "secondary_password", Reason: "is not the secondary's password"}}}

func (f *fakeBackend) Identify(context.Context) (api.IdentityInfo, error) {
	return api.IdentityInfo{}, api.Errorf(http.StatusNotImplemented, "not used by the console")
}

func (f *fakeBackend) InstallLicense(context.Context, api.LicenseRequest) (api.LicenseResult, error) {
	return api.LicenseResult{}, api.Errorf(http.StatusNotImplemented, "not used by the console")
}

// testFingerprint is the certificate the fake secondary presents.
const testFingerprint = "5d5b09f6dcb2d53a5fffc60c4ac0d55fabdfd7ac2d8e9f12e1e5c8c4a1b2c3d4"

func (f *fakeBackend) InspectSecondary(_ context.Context, req api.SecondaryRequest) (api.IdentityInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secondaryReqs = append(f.secondaryReqs, req)
	if req.SecondaryPassword != "pw" {
		return api.IdentityInfo{}, wrongPassword
	}
	return f.secondary, nil
}

func (f *fakeBackend) LicenseSecondary(_ context.Context, req api.SecondaryLicenseRequest) (api.LicenseResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secondaryReqs = append(f.secondaryReqs, req.SecondaryRequest)
	switch {
	case req.SecondaryPassword != "pw":
		return api.LicenseResult{}, wrongPassword
	case !strings.HasPrefix(req.License, "hafw-license"):
		return api.LicenseResult{}, &api.Error{Code: http.StatusConflict, Message: "the peer 10.201.0.3 refused: refusing license: license is for another machine",
			Fields: []api.FieldError{{Field: "license", Reason: "refusing license: license is for another machine"}}}
	}
	f.secondaryLics = append(f.secondaryLics, req.License)
	f.secondary.Activation = api.StatusActivated
	return api.LicenseResult{Message: "License L2 (Activation, count 1) installed on mse2.", Identity: f.secondary}, nil
}

// postForm posts the pairing form as the browser does (multipart, with an
// optional license file).
func (c *console) postForm(path string, form url.Values, license string) *httptest.ResponseRecorder {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range form {
		for _, v := range vs {
			if err := mw.WriteField(k, v); err != nil {
				c.t.Fatal(err)
			}
		}
	}
	if license != "" {
		fw, err := mw.CreateFormFile("license", "va2.lic")
		if err != nil {
			c.t.Fatal(err)
		}
		io.WriteString(fw, license)
	}
	mw.Close()
	return c.do("POST", path, &buf, mw.FormDataContentType())
}

func TestFormChecksAndActivatesTheSecondary(t *testing.T) {
	c := newConsole(t)
	token := c.login()
	if body := c.get("/ui/ha").Body.String(); !strings.Contains(body, `id="secondary-udi">not checked yet<`) || !strings.Contains(body, `id="check-secondary"`) || strings.Contains(body, `id="activate-secondary"`) {
		t.Errorf("the fresh form should offer Check secondary and no upload yet:\n%s", body)
	}
	form := url.Values{"csrf": {token}, "secondary_name": {"mse2"}, "secondary_ip": {"10.201.0.3"}, "secondary_password": {"pw"},
		"secondary_fingerprint": {testFingerprint}, "failover_type": {"automatic"}, "failback_type": {"manual"}, "long_failover_wait": {"10"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range form {
			f[kk] = vv
		}
		f.Set(k, v)
		return f
	}

	// Bad input never reaches the backend; the errors are at the fields.
	for _, tc := range []struct{ field, value, want string }{
		{"secondary_ip", "10.201.0", "is not a unicast IPv4 address"},
		{"secondary_password", "", "is required"},
	} {
		w := c.postForm("/ui/ha/inspect", with(tc.field, tc.value), "")
		if w.Code != http.StatusBadRequest || !strings.Contains(fieldError(w.Body.String(), tc.field), tc.want) {
			t.Errorf("inspect %s=%q: %d, field error %q", tc.field, tc.value, w.Code, fieldError(w.Body.String(), tc.field))
		}
	}
	if w := c.postForm("/ui/ha/secondary-license", form, ""); w.Code != http.StatusBadRequest || fieldError(w.Body.String(), "license") != "choose a license file" {
		t.Errorf("upload without a file: %d %q", w.Code, fieldError(w.Body.String(), "license"))
	}
	if n := len(c.b.secondaryReqs); n != 0 {
		t.Fatalf("the backend saw %d requests with bad input", n)
	}

	// A wrong password is refused at the password field.
	if w := c.postForm("/ui/ha/inspect", with("secondary_password", "nope"), ""); w.Code != http.StatusConflict || fieldError(w.Body.String(), "secondary_password") != "is not the secondary's password" {
		t.Errorf("wrong password: %d %q", w.Code, fieldError(w.Body.String(), "secondary_password"))
	}

	// Check secondary shows the UDI, the status and the upload.
	w := c.postForm("/ui/ha/inspect", form, "")
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, `id="secondary-udi">VA-LOW:V01:mse2<`) || !strings.Contains(body, `id="secondary-activation">Not Activated<`) ||
		!strings.Contains(body, "Secondary MSE needs to be activated with a Virtual Appliance license.") || !strings.Contains(body, `id="activate-secondary"`) {
		t.Fatalf("check secondary: %d\n%s", w.Code, body)
	}
	if !strings.Contains(body, `value="mse2"`) || strings.Contains(body, `value="pw"`) {
		t.Error("the form lost the typed name or sent the password back")
	}
	if n, _ := c.b.calls(); n != 0 {
		t.Fatal("Check secondary paired")
	}

	// A license the secondary refuses: its reason at the license field,
	// the secondary still shown as not activated.
	w = c.postForm("/ui/ha/secondary-license", form, "not a license")
	if w.Code != http.StatusConflict || !strings.Contains(fieldError(w.Body.String(), "license"), "license is for another machine") ||
		!strings.Contains(w.Body.String(), `id="secondary-activation">Not Activated<`) || len(c.b.secondaryLics) != 0 {
		t.Errorf("refused license: %d %q\n%s", w.Code, fieldError(w.Body.String(), "license"), w.Body)
	}

	// A good one activates the secondary; the form says so.
	w = c.postForm("/ui/ha/secondary-license", form, "hafw-license: 1\n")
	body = w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, `id="secondary-activation">Activated<`) || !strings.Contains(body, "License L2") || strings.Contains(body, `id="activate-secondary"`) {
		t.Errorf("license upload: %d\n%s", w.Code, body)
	}
	if len(c.b.secondaryLics) != 1 || c.b.secondaryLics[0] != "hafw-license: 1\n" {
		t.Errorf("licenses forwarded: %q", c.b.secondaryLics)
	}

	// Save (multipart, as the form posts it) pairs.
	w = c.postForm("/ui/ha/pair", form, "")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/status?peer=10.201.0.3" {
		t.Fatalf("save: %d %q\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
}
