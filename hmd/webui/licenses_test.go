package webui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hwprofiles"
	"github.com/hafw/hafw/licensing"
)

func (f *fakeBackend) RemoveActivation(context.Context) (api.LicenseResult, error) {
	return api.LicenseResult{}, api.Errorf(http.StatusNotImplemented, "not used by the console")
}

func (f *fakeBackend) DeactivateSecondary(_ context.Context, req api.DeactivateRequest) (api.LicenseResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deactivated = append(f.deactivated, req)
	if f.secondary.Activation != api.StatusActivated {
		return api.LicenseResult{}, &api.Error{Code: http.StatusConflict, Message: "the peer 10.201.0.3 refused: mse2 holds no activation license: nothing to delete"}
	}
	f.secondary.Activation = api.StatusNotActivated
	return api.LicenseResult{Message: "Activation license L2 deleted from mse2; its activation status is now Not Activated.", Identity: f.secondary}, nil
}

// TestLicenseSummaryPage: the installed licenses with their expiry and
// status, this appliance's activation and UDI, the upload coming back to
// the page.
func TestLicenseSummaryPage(t *testing.T) {
	c := newConsole(t)
	c.b.st.UDI = "AIR-MSE-3310-K9:V01:mse1"
	day := licensing.Date(c.now)
	c.lic.list = []licensing.Installed{
		{File: "/l/ACT-1.lic", License: licensing.License{ID: "ACT-1", Feature: licensing.Activation, Count: 1}},
		{File: "/l/CAS-1.lic", License: licensing.License{ID: "CAS-1", Feature: licensing.CAS, Count: 100, Expires: day.AddDate(0, 0, 12)}},
		{File: "/l/CAS-2.lic", License: licensing.License{ID: "CAS-2", Feature: licensing.CAS, Count: 50, Expires: day.AddDate(0, 0, -3)},
			Err: errors.New("/l/CAS-2.lic: license has expired")},
	}
	prof, err := hwprofiles.Lookup("3310")
	if err != nil {
		t.Fatal(err)
	}
	c.lic.profile = prof
	casLimit := prof.PlatformLimit(hwprofiles.CAS)
	token := c.login()
	w := c.get("/ui/licenses")
	body := w.Body.String()
	for _, want := range []string{
		// The seed's summary: CAS-1 counts, the expired CAS-2 does not.
		fmt.Sprintf(`<th scope="rowgroup" rowspan="1">CAS</th><td rowspan="1">%d</td><td>%s</td><td>100</td><td rowspan="1">%d</td>`, casLimit, licensing.CAS.Label(), min(100, casLimit)),
		`<a href="/ui/licenses" aria-current="page">Licenses</a>`,
		`id="udi">AIR-MSE-3310-K9:V01:mse1<`,
		`class="badge down">Not Activated<`,
		`<th scope="row">ACT-1</th><td>activation</td><td>` + licensing.Activation.Label() + `</td><td>1</td><td>never</td><td>permanent</td>`,
		`<th scope="row">CAS-1</th><td>cas</td>`,
		`<td>100</td><td>` + day.AddDate(0, 0, 12).Format(time.DateOnly) + `</td><td>12 days</td>` + "\n" + `<td><span class="badge warn">Valid</span>`,
		`<td>expired</td>` + "\n" + `<td><span class="badge down">/l/CAS-2.lic: license has expired</span>`,
		`name="back" value="/ui/licenses"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if w.Code != http.StatusOK || t.Failed() {
		t.Fatalf("%d\n%s", w.Code, body)
	}
	// Not paired: no secondary part on this page for a secondary.
	c.b.st.Role = "secondary"
	if strings.Contains(c.get("/ui/licenses").Body.String(), "secondary-license-form") {
		t.Error("a secondary offers to delete its secondary's activation")
	}

	// The upload posts where the Appliances page's does and comes back here.
	w = c.postForm("/ui/license", url.Values{"csrf": {token}, "back": {"/ui/licenses"}}, "hafw-license: 1\n")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/licenses" || len(c.lic.installed) != 1 {
		t.Fatalf("upload: %d to %q, installed %d", w.Code, w.Header().Get("Location"), len(c.lic.installed))
	}
	if body := c.get("/ui/licenses").Body.String(); !strings.Contains(body, "License L1") || !strings.Contains(body, `class="badge up">Activated<`) {
		t.Errorf("after the upload:\n%s", body)
	}
	// Somewhere else is not a place to come back to.
	if w := c.postForm("/ui/license", url.Values{"csrf": {token}, "back": {"https://evil.example/"}}, "hafw-license: 1\n"); w.Header().Get("Location") != Prefix {
		t.Errorf("upload with a foreign back: to %q", w.Header().Get("Location"))
	}
}

// TestDeleteSecondaryActivation: bad input is refused at its field before
// the backend is asked; a delete without a certificate gets the one the
// secondary presents to confirm; the confirmed one deletes, and the
// secondary's refusal when it holds none is shown.
func TestDeleteSecondaryActivation(t *testing.T) {
	c := newConsole(t)
	c.b.st.Peers = []api.PeerStatus{{Name: "mse2", HealthMonitorIP: "10.201.0.3", Profile: "VA-Low", State: "PRIMARY_ACTIVE"}}
	c.b.secondary.Activation = api.StatusActivated
	token := c.login()
	body := c.get("/ui/licenses").Body.String()
	for _, want := range []string{`id="secondary-license-form"`, `data-confirm="Are you sure you want to delete the secondary's activation license?`,
		`id="secondary_ip" name="secondary_ip" value="10.201.0.3"`, `id="deactivate-secondary">Delete Secondary Activation license<`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
	form := url.Values{"csrf": {token}, "secondary_ip": {"10.201.0.3"}, "secondary_password": {"pw"}, "secondary_fingerprint": {testFingerprint}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range form {
			f[kk] = vv
		}
		f.Set(k, v)
		return f
	}
	for _, tc := range []struct{ field, value, want string }{
		{"secondary_ip", "10.201.0.300", "is not a unicast IPv4 address"},
		{"secondary_password", "", "is required"},
		{"secondary_fingerprint", "12ab", "must be 64 lowercase hexadecimal digits"},
	} {
		w := c.post("/ui/licenses/deactivate", with(tc.field, tc.value))
		if w.Code != http.StatusBadRequest || !strings.Contains(fieldError(w.Body.String(), tc.field), tc.want) {
			t.Errorf("%s=%q: %d, field error %q", tc.field, tc.value, w.Code, fieldError(w.Body.String(), tc.field))
		}
	}
	if w := c.post("/ui/licenses/deactivate", url.Values{"csrf": {"forged"}, "secondary_ip": {"10.201.0.3"}}); w.Code != http.StatusForbidden {
		t.Errorf("forged CSRF: %d", w.Code)
	}
	if len(c.b.deactivated)+len(c.b.secondaryReqs) != 0 {
		t.Fatalf("bad input reached the backend: %v %v", c.b.deactivated, c.b.secondaryReqs)
	}

	// Unpinned: the secondary's certificate is filled in to confirm.
	w := c.post("/ui/licenses/deactivate", with("secondary_fingerprint", ""))
	body = w.Body.String()
	if !strings.Contains(fieldError(body, "secondary_fingerprint"), "confirm the secondary's certificate") ||
		!strings.Contains(body, `value="`+testFingerprint+`"`) || len(c.b.deactivated) != 0 {
		t.Errorf("unpinned delete: %d %q, deactivated %v\n%s", w.Code, fieldError(body, "secondary_fingerprint"), c.b.deactivated, body)
	}
	// Check secondary shows its status without deleting anything.
	body = c.post("/ui/licenses/inspect", form).Body.String()
	if !strings.Contains(body, `class="badge up">Activated<`) || !strings.Contains(body, `id="secondary-udi">VA-LOW:V01:mse2<`) || len(c.b.deactivated) != 0 {
		t.Errorf("check secondary:\n%s", body)
	}

	w = c.post("/ui/licenses/deactivate", form)
	body = w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, "Activation license L2 deleted from mse2") || !strings.Contains(body, `class="badge down">Not Activated<`) {
		t.Errorf("delete: %d\n%s", w.Code, body)
	}
	if len(c.b.deactivated) != 1 || c.b.deactivated[0].SecondaryFingerprint != testFingerprint || c.b.deactivated[0].SecondaryPassword != "pw" {
		t.Errorf("the backend got %+v", c.b.deactivated)
	}
	w = c.post("/ui/licenses/deactivate", form)
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "holds no activation license") {
		t.Errorf("second delete: %d\n%s", w.Code, w.Body)
	}
}
