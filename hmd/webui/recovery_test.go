package webui

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hafw/hafw/hmd/api"
)

func (f *fakeBackend) RecoverFromSecondary(_ context.Context, req api.RecoverFromRequest) (api.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recovered = append(f.recovered, req)
	if req.PrimaryPassword != "primary-pw" {
		// The secondary's refusal, relayed (daemon.relay): the primary
		// refused the password the secondary presented.
		return api.Result{}, &api.Error{Code: http.StatusConflict, Message: "the peer 10.201.0.3 refused: the primary refused the password",
			Fields: []api.FieldError{{Field: "primary_password", Reason: "is not the primary's password"}}}
	}
	return api.Result{Message: "Configuration restored to the primary 10.201.0.2; it rejoins in TERMINATED"}, nil
}

// TestRecoveryPage: offered in the navigation only in recovery mode; bad
// input is refused at its field before the backend is asked; a Restore
// without the secondary's certificate gets the one it presents to
// confirm; the secondary's refusal of this appliance's password is shown
// at that field; a restore shows the secondary's answer.
func TestRecoveryPage(t *testing.T) {
	c := newConsole(t)
	token := c.login()
	body := c.get("/ui/").Body.String()
	if strings.Contains(body, `href="/ui/recovery"`) {
		t.Error("the navigation offers Recovery outside recovery mode")
	}
	body = c.get("/ui/recovery").Body.String()
	if !strings.Contains(body, `id="not-in-recovery"`) || strings.Contains(body, `id="recovery-form"`) {
		t.Errorf("outside recovery mode:\n%s", body)
	}

	c.b.st.RoleReason = "recovery"
	body = c.get("/ui/recovery").Body.String()
	for _, want := range []string{`<a href="/ui/recovery" aria-current="page">Recovery</a>`, `id="recovery-form"`,
		`data-confirm="Are you sure you want to restore this appliance's configuration from the secondary?"`,
		`data-wait="Please Wait. The High Availability configuration is being restored`, `id="restore-progress"`,
		`id="primary_password" name="primary_password"`, `formaction="/ui/recovery/inspect" data-skip-confirm`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	form := url.Values{"csrf": {token}, "secondary_ip": {"10.201.0.3"}, "secondary_password": {"pw"}, "secondary_fingerprint": {testFingerprint}, "primary_password": {"primary-pw"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range form {
			f[kk] = vv
		}
		f.Set(k, v)
		return f
	}
	for _, tc := range []struct{ field, value, want string }{
		{"secondary_ip", "secondary", "is not a unicast IPv4 address"},
		{"secondary_password", "", "is required"},
		{"secondary_fingerprint", strings.ToUpper(testFingerprint), "must be 64 lowercase hexadecimal digits"},
		{"primary_password", "", "is required"},
	} {
		w := c.post("/ui/recovery/restore", with(tc.field, tc.value))
		if w.Code != http.StatusBadRequest || !strings.Contains(fieldError(w.Body.String(), tc.field), tc.want) {
			t.Errorf("%s=%q: %d, field error %q", tc.field, tc.value, w.Code, fieldError(w.Body.String(), tc.field))
		}
		if strings.Contains(w.Body.String(), `value="pw"`) || strings.Contains(w.Body.String(), `value="primary-pw"`) {
			t.Error("a password was sent back to the browser")
		}
	}
	if w := c.post("/ui/recovery/restore", with("csrf", "forged")); w.Code != http.StatusForbidden {
		t.Errorf("forged CSRF: %d", w.Code)
	}
	if len(c.b.recovered)+len(c.b.secondaryReqs) != 0 {
		t.Fatalf("bad input reached the backend: %v %v", c.b.recovered, c.b.secondaryReqs)
	}

	// Check secondary and an unpinned Restore fill in its certificate.
	for _, path := range []string{"/ui/recovery/inspect", "/ui/recovery/restore"} {
		body := c.post(path, with("secondary_fingerprint", "")).Body.String()
		if !strings.Contains(body, `id="secondary-fingerprint">`+testFingerprint+`<`) || !strings.Contains(body, `value="`+testFingerprint+`"`) {
			t.Errorf("%s did not show the secondary's certificate:\n%s", path, body)
		}
	}
	if len(c.b.recovered) != 0 {
		t.Fatal("an unpinned restore was sent")
	}

	w := c.post("/ui/recovery/restore", with("primary_password", "wrong"))
	if w.Code != http.StatusConflict || fieldError(w.Body.String(), "primary_password") != "is not the primary's password" {
		t.Errorf("wrong primary password: %d %q", w.Code, fieldError(w.Body.String(), "primary_password"))
	}
	w = c.post("/ui/recovery/restore", form)
	if body := w.Body.String(); w.Code != http.StatusOK || !strings.Contains(body, `id="restored" role="status">Configuration restored to the primary 10.201.0.2`) {
		t.Errorf("restore: %d\n%s", w.Code, body)
	}
	if got := c.b.recovered[len(c.b.recovered)-1]; got != (api.RecoverFromRequest{SecondaryRequest: api.SecondaryRequest{SecondaryIP: "10.201.0.3", SecondaryPassword: "pw", SecondaryFingerprint: testFingerprint}, PrimaryPassword: "primary-pw"}) {
		t.Errorf("the backend got %+v", got)
	}
}
