package webui

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/events"
	"github.com/hafw/hafw/hwprofiles"
	"github.com/hafw/hafw/licensing"
)

// fakeBackend records the operations the console asks for; the real
// backend is exercised by the browser test.
type fakeBackend struct {
	mu      sync.Mutex
	st      api.Status
	evs     []events.Event
	pairErr error
	opErr   error
	pairs   []api.PairRequest
	ops     []string
	// The future secondary (secondary_test.go).
	secondary     api.IdentityInfo
	secondaryReqs []api.SecondaryRequest
	secondaryLics []string
	// settings are the settings changes taken (settings_test.go).
	settings []api.SettingsRequest
	// The console's License Summary and Recovery (licenses_test.go,
	// recovery_test.go).
	deactivated []api.DeactivateRequest
	recovered   []api.RecoverFromRequest
}

func (f *fakeBackend) Status(context.Context) (api.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st, nil
}

func (f *fakeBackend) Events(_ context.Context, peer string, limit int) ([]events.Event, error) {
	return f.evs, nil
}

func (f *fakeBackend) Pair(_ context.Context, req api.PairRequest) (api.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pairs = append(f.pairs, req)
	if f.pairErr != nil {
		return api.Result{}, f.pairErr
	}
	return api.Result{Message: "Configuration successfully created"}, nil
}

func (f *fakeBackend) AcceptPair(context.Context, api.PeerPairRequest, string) (api.PeerPairResponse, error) {
	return api.PeerPairResponse{}, errors.New("not used by the console")
}

func (f *fakeBackend) op(name string, req api.PeerRequest) (api.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, name+" "+req.Peer+map[bool]string{true: " force", false: ""}[req.Force])
	if f.opErr != nil {
		return api.Result{}, f.opErr
	}
	return api.Result{Message: name + " accepted"}, nil
}

func (f *fakeBackend) Switchover(_ context.Context, req api.PeerRequest) (api.Result, error) {
	return f.op("switchover", req)
}

func (f *fakeBackend) Failback(_ context.Context, req api.PeerRequest) (api.Result, error) {
	return f.op("failback", req)
}

func (f *fakeBackend) Unpair(_ context.Context, req api.PeerRequest) (api.Result, error) {
	return f.op("unpair", req)
}

func (f *fakeBackend) PeerUnpair(context.Context, string) (api.Result, error) {
	return api.Result{}, errors.New("not used by the console")
}

func (f *fakeBackend) calls() (pairs int, ops []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pairs), append([]string(nil), f.ops...)
}

// fakeAuth accepts admin/secret, as api.Password would with that hash.
type fakeAuth struct{}

func (fakeAuth) Authenticate(r *http.Request) api.Caller {
	u, p, ok := r.BasicAuth()
	return api.Caller{Admin: ok && u == api.AdminUser && p == "secret"}
}

type fakeLicenses struct {
	activated bool
	installed [][]byte
	list      []licensing.Installed
	// profile is the model the summary is for (none: no services).
	profile hwprofiles.Profile
}

func (l *fakeLicenses) List() ([]licensing.Installed, error) { return l.list, nil }

func (l *fakeLicenses) Summary() (licensing.Summary, error) {
	var valid []licensing.License
	for _, in := range l.list {
		if in.Err == nil {
			valid = append(valid, in.License)
		}
	}
	return licensing.Summarize(l.profile, valid), nil
}

func (l *fakeLicenses) Activated() (bool, error) { return l.activated, nil }

func (l *fakeLicenses) Install(data []byte) (licensing.License, error) {
	if !bytes.HasPrefix(data, []byte("hafw-license")) {
		return licensing.License{}, errors.New("refusing license: malformed license")
	}
	l.installed = append(l.installed, data)
	l.activated = true
	return licensing.License{ID: "L1", Feature: licensing.Activation, Count: 1}, nil
}

type console struct {
	t   *testing.T
	s   *Server
	b   *fakeBackend
	lic *fakeLicenses
	now time.Time
	// cookie is the session cookie, once logged in.
	cookie *http.Cookie
}

func primaryStatus() api.Status {
	return api.Status{Running: true, Role: "primary", State: "PRIMARY_ACTIVE", Hostname: "mse1", HealthMonitorIP: "10.201.0.2", VIP: "10.201.0.10", Version: "1.0", Profile: "3310", Peers: []api.PeerStatus{}}
}

func newConsole(t *testing.T) *console {
	t.Helper()
	c := &console{t: t, b: &fakeBackend{st: primaryStatus(), secondary: futureSecondary()}, lic: &fakeLicenses{}, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s, err := New(Options{Backend: c.b, Auth: fakeAuth{}, Licenses: c.lic, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return c.now }})
	if err != nil {
		t.Fatal(err)
	}
	c.s = s
	return c
}

func (c *console) do(method, path string, body io.Reader, contentType string) *httptest.ResponseRecorder {
	c.t.Helper()
	r := httptest.NewRequest(method, "https://10.201.0.2:8443"+path, body)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if c.cookie != nil {
		r.AddCookie(c.cookie)
	}
	w := httptest.NewRecorder()
	c.s.ServeHTTP(w, r)
	return w
}

func (c *console) get(path string) *httptest.ResponseRecorder { return c.do("GET", path, nil, "") }

func (c *console) post(path string, form url.Values) *httptest.ResponseRecorder {
	return c.do("POST", path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login logs in through the form and returns the CSRF token of a page.
func (c *console) login() string {
	c.t.Helper()
	w := c.post("/ui/login", url.Values{"password": {"secret"}, "next": {"/ui/ha"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/ha" {
		c.t.Fatalf("login: %d %q", w.Code, w.Header().Get("Location"))
	}
	for _, ck := range w.Result().Cookies() {
		if ck.Name == cookieName {
			c.cookie = ck
		}
	}
	if c.cookie == nil || !c.cookie.Secure || !c.cookie.HttpOnly || c.cookie.SameSite != http.SameSiteStrictMode {
		c.t.Fatalf("session cookie %+v: want Secure, HttpOnly, SameSite=Strict", c.cookie)
	}
	return c.csrf("/ui/")
}

func (c *console) csrf(path string) string {
	c.t.Helper()
	w := c.get(path)
	m := csrfRE.FindStringSubmatch(w.Body.String())
	if w.Code != http.StatusOK || m == nil {
		c.t.Fatalf("GET %s: %d, no CSRF token:\n%s", path, w.Code, w.Body)
	}
	return m[1]
}

func TestPagesNeedLogin(t *testing.T) {
	c := newConsole(t)
	for _, path := range []string{"/ui/", "/ui/ha", "/ui/status?peer=10.201.0.3", "/ui/n1"} {
		w := c.get(path)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/login?next="+url.QueryEscape(path) {
			t.Errorf("GET %s: %d to %q, want the login page", path, w.Code, w.Header().Get("Location"))
		}
		if strings.Contains(w.Body.String(), "mse1") {
			t.Errorf("GET %s leaked the appliance's name before login", path)
		}
	}
	if w := c.get("/ui/live"); w.Code != http.StatusUnauthorized {
		t.Errorf("GET /ui/live: %d, want 401", w.Code)
	}
	for _, path := range []string{"/ui/ha/pair", "/ui/ha/inspect", "/ui/ha/secondary-license", "/ui/ha/switchover", "/ui/ha/failback", "/ui/ha/delete", "/ui/license", "/ui/logout"} {
		if w := c.post(path, url.Values{"peer": {"10.201.0.3"}, "csrf": {"x"}}); w.Code != http.StatusUnauthorized {
			t.Errorf("POST %s: %d, want 401", path, w.Code)
		}
	}
	if pairs, ops := c.b.calls(); pairs != 0 || len(ops) != 0 {
		t.Errorf("operations ran without login: %d pairs, %v", pairs, ops)
	}
	// A wrong password keeps the login form with the reason at the field.
	w := c.post("/ui/login", url.Values{"password": {"guess"}})
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `id="password-error"`) || len(w.Result().Cookies()) != 0 {
		t.Errorf("wrong password: %d, cookies %v\n%s", w.Code, w.Result().Cookies(), w.Body)
	}
}

// TestBasicAuthOpensNoSession: a script polling with basic auth reads the
// pages without creating sessions, so the operator's browser session
// survives any number of polls.
func TestBasicAuthOpensNoSession(t *testing.T) {
	c := newConsole(t)
	c.login()
	for i := range 3 * maxSessions {
		r := httptest.NewRequest("GET", "https://10.201.0.2:8443/ui/live", nil)
		r.SetBasicAuth(api.AdminUser, "secret")
		w := httptest.NewRecorder()
		c.s.ServeHTTP(w, r)
		if w.Code != http.StatusOK || len(w.Result().Cookies()) != 0 {
			t.Fatalf("basic-auth poll %d: %d, cookies %v", i, w.Code, w.Result().Cookies())
		}
	}
	if w := c.get("/ui/"); w.Code != http.StatusOK {
		t.Fatalf("the browser's session after %d basic-auth polls: %d, want 200", 3*maxSessions, w.Code)
	}
	r := httptest.NewRequest("GET", "https://10.201.0.2:8443/ui/", nil)
	r.SetBasicAuth(api.AdminUser, "secret")
	w := httptest.NewRecorder()
	c.s.ServeHTTP(w, r)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "mse1") {
		t.Fatalf("basic auth page: %d", w.Code)
	}
	// Without a session there is no CSRF token: basic auth cannot post.
	r = httptest.NewRequest("POST", "https://10.201.0.2:8443/ui/ha/switchover", strings.NewReader("peer=10.201.0.3&csrf="))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(api.AdminUser, "secret")
	w = httptest.NewRecorder()
	c.s.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Fatalf("basic-auth post without a CSRF token: %d, want 403", w.Code)
	}
	r = httptest.NewRequest("GET", "https://10.201.0.2:8443/ui/", nil)
	r.SetBasicAuth(api.AdminUser, "wrong")
	w = httptest.NewRecorder()
	c.s.ServeHTTP(w, r)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("wrong basic auth: %d", w.Code)
	}
}

func TestCSRF(t *testing.T) {
	c := newConsole(t)
	c.b.st.Peers = []api.PeerStatus{{Name: "mse2", HealthMonitorIP: "10.201.0.3", State: "PRIMARY_ACTIVE"}}
	token := c.login()
	for _, bad := range []string{"", "forged", token + "x"} {
		if w := c.post("/ui/ha/switchover", url.Values{"peer": {"10.201.0.3"}, "csrf": {bad}}); w.Code != http.StatusForbidden {
			t.Errorf("CSRF token %q: %d, want 403", bad, w.Code)
		}
	}
	if _, ops := c.b.calls(); len(ops) != 0 {
		t.Fatalf("a forged post ran %v", ops)
	}
	w := c.post("/ui/ha/switchover", url.Values{"peer": {"10.201.0.3"}, "csrf": {token}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/status?peer=10.201.0.3" {
		t.Fatalf("switchover: %d to %q", w.Code, w.Header().Get("Location"))
	}
	if _, ops := c.b.calls(); len(ops) != 1 || ops[0] != "switchover 10.201.0.3" {
		t.Fatalf("ops %v", ops)
	}
	// The result is shown once.
	if body := c.get("/ui/status?peer=10.201.0.3").Body.String(); !strings.Contains(body, "switchover accepted") {
		t.Errorf("the flash is missing:\n%s", body)
	}
	if body := c.get("/ui/status?peer=10.201.0.3").Body.String(); strings.Contains(body, "switchover accepted") {
		t.Error("the flash was shown twice")
	}
	// After logout the session and its token are dead.
	if w := c.post("/ui/logout", url.Values{"csrf": {token}}); w.Code != http.StatusSeeOther {
		t.Fatalf("logout: %d", w.Code)
	}
	if w := c.post("/ui/ha/failback", url.Values{"peer": {"10.201.0.3"}, "csrf": {token}}); w.Code != http.StatusUnauthorized {
		t.Errorf("post after logout: %d, want 401", w.Code)
	}
}

func TestOperationRefusalIsShown(t *testing.T) {
	c := newConsole(t)
	c.b.st.Peers = []api.PeerStatus{{Name: "mse2", HealthMonitorIP: "10.201.0.3", State: "TERMINATED"}}
	c.b.opErr = api.Errorf(http.StatusConflict, "failback refused: the pair must stabilize for 30m0s after a failover; force it to override")
	token := c.login()
	w := c.post("/ui/ha/failback", url.Values{"peer": {"10.201.0.3"}, "csrf": {token}, "force": {"off"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("failback: %d", w.Code)
	}
	body := c.get(w.Header().Get("Location")).Body.String()
	if !strings.Contains(body, `class="flash error"`) || !strings.Contains(body, "must stabilize for 30m0s") {
		t.Errorf("the refusal is not shown:\n%s", body)
	}
	// A bad peer address is the API decoder's refusal, not the backend's.
	c.b.opErr = nil
	c.post("/ui/ha/delete", url.Values{"peer": {"not-an-ip"}, "csrf": {token}})
	if _, ops := c.b.calls(); len(ops) != 1 {
		t.Errorf("the backend saw a bad peer address: %v", ops)
	}
	c.post("/ui/ha/delete", url.Values{"peer": {"10.201.0.3"}, "csrf": {token}, "force": {"on"}})
	if _, ops := c.b.calls(); ops[len(ops)-1] != "unpair 10.201.0.3 force" {
		t.Errorf("forced delete: %v", ops)
	}
}

// fieldError extracts the message shown under input name.
func fieldError(body, name string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(name) + `-error">([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func TestPairFormShowsErrorsNextToFields(t *testing.T) {
	c := newConsole(t)
	token := c.login()
	good := url.Values{"csrf": {token}, "secondary_name": {"mse2"}, "secondary_ip": {"10.201.0.3"}, "secondary_password": {"pw"},
		"secondary_fingerprint": {testFingerprint}, "failover_type": {"automatic"}, "failback_type": {"manual"}, "long_failover_wait": {"10"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range good {
			f[kk] = vv
		}
		f.Set(k, v)
		return f
	}
	cases := []struct {
		field, value, want string
	}{
		{"secondary_ip", "10.201.0", "not a unicast IPv4 address"},
		{"secondary_name", "-bad-", "must start with a letter"},
		{"secondary_password", "", "is required"},
		{"failover_type", "sometimes", `must be "automatic" or "manual"`},
		{"long_failover_wait", "soon", "not a duration"},
		{"long_failover_wait", "0.01", "outside 100 ms to 10 minutes"},
		{"heartbeat_interval", "9s", "a third of the failover wait"},
		{"witness", "10.201.0.3", "a third node"},
		{"witness_password", "", "is required with a witness"},
		{"secondary_fingerprint", "", "confirm the secondary's certificate"},
		{"witness_fingerprint", "", "is needed with a witness"},
	}
	for _, tc := range cases {
		f := with(tc.field, tc.value)
		if strings.HasPrefix(tc.field, "witness") {
			f.Set("witness", cmp.Or(f.Get("witness"), "10.201.0.4"))
			f.Set("witness_password", cmp.Or(f.Get("witness_password"), "wpw"))
			f.Set(tc.field, tc.value)
		}
		w := c.post("/ui/ha/pair", f)
		body := w.Body.String()
		if w.Code != http.StatusBadRequest {
			t.Errorf("%s=%q: %d, want 400", tc.field, tc.value, w.Code)
		}
		if got := fieldError(body, tc.field); !strings.Contains(got, tc.want) {
			t.Errorf("%s=%q: message at the field %q, want %q", tc.field, tc.value, got, tc.want)
		}
		if !strings.Contains(body, `aria-invalid="true" aria-describedby="`+tc.field+`-error`) && !strings.Contains(body, `aria-describedby="`+tc.field+`-error `+tc.field+`-help" aria-invalid="true"`) {
			t.Errorf("%s=%q: the input is not marked invalid for assistive technology", tc.field, tc.value)
		}
	}
	if n, _ := c.b.calls(); n != 0 {
		t.Fatalf("the backend was asked to pair with bad input %d times", n)
	}
	// The backend's refusals: at the field when it names one, else on top.
	c.b.pairErr = &api.Error{Code: http.StatusConflict, Message: "the secondary refused the password",
		Fields: []api.FieldError{{Field: "secondary_password", Reason: "is not the secondary's password"}}}
	w := c.post("/ui/ha/pair", good)
	if w.Code != http.StatusConflict || fieldError(w.Body.String(), "secondary_password") != "is not the secondary's password" {
		t.Errorf("backend field refusal: %d\n%s", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), `value="pw"`) {
		t.Error("the password was sent back into the page")
	}
	if !strings.Contains(w.Body.String(), `value="10.201.0.3"`) {
		t.Error("the secondary IP the admin typed was lost")
	}
	c.b.pairErr = api.Errorf(http.StatusConflict, "Secondary MSE needs to be activated with a Virtual Appliance license. Add a license and save the config.")
	w = c.post("/ui/ha/pair", good)
	if !strings.Contains(w.Body.String(), `id="form-error" role="alert">Secondary MSE needs to be activated`) {
		t.Errorf("activation refusal not shown on top:\n%s", w.Body)
	}
	if !strings.Contains(w.Body.String(), `id="secondary-udi">VA-LOW:V01:mse2<`) || !strings.Contains(w.Body.String(), `id="secondary-activation">Not Activated<`) {
		t.Errorf("the refused Save does not show the secondary's UDI and activation status:\n%s", w.Body)
	}
	if !strings.Contains(w.Body.String(), `id="activate-secondary"`) {
		t.Error("no license upload for the secondary on the form")
	}
	// Save without a pinned certificate: refused before the backend is
	// asked, the form filled with what the secondary presents.
	calls, _ := c.b.calls()
	w = c.post("/ui/ha/pair", with("secondary_fingerprint", ""))
	if n, _ := c.b.calls(); n != calls || w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `id="secondary-fingerprint">`+testFingerprint+`<`) ||
		!strings.Contains(w.Body.String(), `value="`+testFingerprint+`"`) {
		t.Errorf("an unpinned Save: %d, backend asked %d more times\n%s", w.Code, n-calls, w.Body)
	}
	// Success goes to the status page of the new secondary.
	c.b.pairErr = nil
	w = c.post("/ui/ha/pair", with("long_failover_wait", "500ms"))
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/status?peer=10.201.0.3" {
		t.Fatalf("pair: %d to %q\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
	c.b.mu.Lock()
	last := c.b.pairs[len(c.b.pairs)-1]
	c.b.mu.Unlock()
	if time.Duration(last.LongFailoverWait) != 500*time.Millisecond || last.SecondaryPassword != "pw" || last.FailoverType != api.Automatic || last.Witness != "" {
		t.Errorf("pair request %+v", last)
	}
	// With a witness: it reaches the API, and its password never comes back.
	withWitness := with("witness", "10.201.0.4")
	withWitness.Set("witness_password", "wpw")
	withWitness.Set("witness_fingerprint", strings.Repeat("ab", 32))
	c.b.pairErr = api.Errorf(http.StatusConflict, "refused for the test")
	if body := c.post("/ui/ha/pair", withWitness).Body.String(); strings.Contains(body, `value="wpw"`) || !strings.Contains(body, `value="10.201.0.4"`) {
		t.Errorf("the re-rendered form must keep the witness and drop its password:\n%s", body)
	}
	c.b.mu.Lock()
	last = c.b.pairs[len(c.b.pairs)-1]
	c.b.mu.Unlock()
	if last.Witness != "10.201.0.4" || last.WitnessPassword != "wpw" || last.WitnessFingerprint != strings.Repeat("ab", 32) {
		t.Errorf("pair request with a witness %+v", last)
	}
}

func TestLiveStatus(t *testing.T) {
	c := newConsole(t)
	c.b.st.Peers = []api.PeerStatus{{Name: "mse2", HealthMonitorIP: "10.201.0.3", State: "PRIMARY_ACTIVE", PeerState: "SECONDARY_ACTIVE", Heartbeat: "Up",
		StatusText: "Primary and secondary server synchronization in progress (42% complete)", DataReplication: "Setting up", MeanHeartbeatMS: 4.25, InstanceDBName: "mseos3s", InstanceDBPort: 1624,
		Warnings: []string{"No witness configured: <both> serve"}}}
	c.b.evs = []events.Event{{Time: time.Date(2012, 2, 14, 0, 22, 26, 0, time.UTC), Peer: "10.201.0.3", Description: "Heartbeats have been setup successfully", GeneratedBy: "Primary", Remarks: "<b>peer</b>"}}
	c.b.st.Applications = []api.AppStatus{{Name: "tracker", State: "running", PID: 412, Restarts: 2, Health: "unhealthy",
		Check: "http GET :8080/healthz", Failures: 2, MaxFailures: 3, LastFailure: "health check failed 3 times"}}
	c.login()
	page := c.get("/ui/status").Body.String()
	for _, want := range []string{"Applications monitored", "<td>tracker</td><td>running (pid 412)</td>", `<span class="badge down">unhealthy</span>`,
		"<td>2 of 3</td><td>health check failed 3 times</td>"} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks the application row's %q", want)
		}
	}
	for _, want := range []string{"synchronization in progress (42% complete)", "4.25 ms", "2012-Feb-14, 00:22:26 UTC", "&lt;b&gt;peer&lt;/b&gt;", `data-peer="10.201.0.3" data-field="status"`,
		`<p class="flash warning" role="note">No witness configured: &lt;both&gt; serve</p>`} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	w := c.get("/ui/live?peer=10.201.0.3")
	var l live
	if err := json.Unmarshal(w.Body.Bytes(), &l); err != nil {
		t.Fatalf("live JSON: %v\n%s", err, w.Body)
	}
	p := l.Peers["10.201.0.3"]
	if p.Status != "Primary and secondary server synchronization in progress (42% complete)" || p.Heartbeat != "Up" || p.MeanHeartbeat != "4.25 ms" || p.Instance != "mseos3s (port 1624)" {
		t.Errorf("live peer %+v", p)
	}
	if len(l.Events) != 1 || l.Events[0].Time != "2012-Feb-14, 00:22:26 UTC" || l.Events[0].Remarks != "<b>peer</b>" {
		t.Errorf("live events %+v", l.Events)
	}
	// The sync finishes: the next poll says so.
	c.b.mu.Lock()
	c.b.st.Peers[0].StatusText, c.b.st.Peers[0].DataReplication = "Active", "Up"
	c.b.mu.Unlock()
	l = live{}
	_ = json.Unmarshal(c.get("/ui/live?peer=10.201.0.3").Body.Bytes(), &l)
	if l.Peers["10.201.0.3"].Status != "Active" || l.Peers["10.201.0.3"].DataReplication != "Up" {
		t.Errorf("live after sync %+v", l.Peers)
	}
}

func TestSessionsExpireAndAreBounded(t *testing.T) {
	c := newConsole(t)
	c.login()
	c.now = c.now.Add(SessionIdle - time.Minute)
	if w := c.get("/ui/"); w.Code != http.StatusOK {
		t.Fatalf("active session: %d", w.Code)
	}
	c.now = c.now.Add(SessionIdle + time.Second)
	if w := c.get("/ui/"); w.Code != http.StatusSeeOther {
		t.Fatalf("idle session still valid: %d", w.Code)
	}
	s := newSessions(func() time.Time { return c.now })
	for range 3 * maxSessions {
		if _, err := s.create("192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.m) > maxSessions {
		t.Fatalf("%d sessions kept, limit %d", len(s.m), maxSessions)
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/ui/ha?peer=10.0.0.3": "/ui/ha?peer=10.0.0.3",
		"":                     "/ui/",
		"https://evil.example": "/ui/",
		"//evil.example/ui/":   "/ui/",
		"/ui/\\evil":           "/ui/",
		"/v1/status":           "/ui/",
		"/ui/../v1/status":     "/ui/",
		"/ui/%2E%2E/v1/status": "/ui/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLicenseUpload(t *testing.T) {
	c := newConsole(t)
	token := c.login()
	if !strings.Contains(c.get("/ui/").Body.String(), `id="activation">Not Activated`) {
		t.Error("activation status not shown")
	}
	upload := func(content string) string {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("csrf", token)
		fw, _ := mw.CreateFormFile("license", "va.lic")
		io.WriteString(fw, content)
		mw.Close()
		w := c.do("POST", "/ui/license", &buf, mw.FormDataContentType())
		if w.Code != http.StatusSeeOther {
			t.Fatalf("upload: %d %s", w.Code, w.Body)
		}
		return c.get("/ui/").Body.String()
	}
	if body := upload("garbage"); !strings.Contains(body, "refusing license: malformed license") || len(c.lic.installed) != 0 {
		t.Errorf("a bad license was not refused with its reason:\n%s", body)
	}
	if body := upload("hafw-license: 1\n"); !strings.Contains(body, "License L1") || !strings.Contains(body, `id="activation">Activated`) {
		t.Errorf("license not installed:\n%s", body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	c := newConsole(t)
	w := c.get("/ui/login")
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if w.Header().Get("X-Frame-Options") != "DENY" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", w.Header())
	}
	if w := c.get("/ui/static/app.js"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "data-confirm") {
		t.Errorf("static script: %d", w.Code)
	}
}

// TestRefusalSaysItOnce: the daemon's reasons that already say "refused"
// are not prefixed again ("Failback refused: failback refused: …").
func TestRefusalSaysItOnce(t *testing.T) {
	for _, c := range []struct{ err, want string }{
		{"failback refused: the pair stabilizes for 29m more", "Failback refused: the pair stabilizes for 29m more"},
		{"this appliance is not paired", "Failback refused: this appliance is not paired"},
	} {
		if got := refusal("Failback", api.Errorf(http.StatusConflict, "%s", c.err)); got != c.want {
			t.Errorf("refusal(%q) = %q, want %q", c.err, got, c.want)
		}
	}
}

// TestViewPeerSaysWhatIsKnown: a silent peer's state is the last known
// one, its response time is not shown as current, and the VIP holder is
// named from the heartbeats.
func TestViewPeerSaysWhatIsKnown(t *testing.T) {
	up := api.PeerStatus{Name: "mse2", Heartbeat: "Up", PeerState: "FAILOVER_ACTIVE", PeerHoldsVIP: true, MeanHeartbeatMS: 0.52}
	if v := viewPeer(up); v.PeerState != "FAILOVER_ACTIVE" || v.VIPHolder != "mse2 (the peer)" || v.MeanHeartbeat != "0.52 ms" ||
		v.Tones["heartbeat"] != "up" || v.Tones["peer_state"] != "warn" {
		t.Errorf("peer heard: %+v", v)
	}
	down := up
	down.Heartbeat, down.PeerHoldsVIP = "Down", false
	if v := viewPeer(down); v.PeerState != "FAILOVER_ACTIVE (last known; heartbeats down)" || !strings.Contains(v.VIPHolder, "unknown") || strings.Contains(v.MeanHeartbeat, "0.52") ||
		v.Tones["heartbeat"] != "down" || v.Tones["status"] != "down" {
		t.Errorf("peer silent: %+v", v)
	}
	syncing := up
	syncing.Syncing, syncing.SyncPercent = true, 46
	if v := viewPeer(syncing); v.Progress != 46 || viewPeer(up).Progress != -1 {
		t.Errorf("sync progress %d (and %d without a sync)", v.Progress, viewPeer(up).Progress)
	}
	mine := up
	mine.OwnsVIP, mine.PeerHoldsVIP = true, false
	mine.State, mine.PeerState, mine.StatusText = "TERMINATED", "PRIMARY_ACTIVE", "Active"
	if v := viewPeer(mine); v.VIPHolder != "this appliance" || v.Tones["state"] != "down" || v.Tones["peer_state"] != "up" || v.Tones["status"] != "up" {
		t.Errorf("holding the VIP: %+v", v)
	}
}

// TestOperationsOfferedByState: a terminated primary is not offered a
// switchover (the button is disabled with the reason) but is offered
// failback with its force box; a steady pair the other way round.
func TestOperationsOfferedByState(t *testing.T) {
	c := newConsole(t)
	c.login()
	peer := api.PeerStatus{Name: "mse2", HealthMonitorIP: "10.201.0.3", Heartbeat: "Up", State: "TERMINATED", PeerState: "FAILOVER_ACTIVE"}
	c.b.mu.Lock()
	c.b.st.State, c.b.st.Peers = "TERMINATED", []api.PeerStatus{peer}
	c.b.mu.Unlock()
	body := c.get("/ui/ha").Body.String()
	if !strings.Contains(body, `id="switchover" disabled`) || !strings.Contains(body, "Switchover is for a pair in its steady states; this appliance is TERMINATED.") {
		t.Errorf("switchover offered to a terminated primary:\n%s", body)
	}
	if strings.Contains(body, `id="failback" disabled`) || !strings.Contains(body, `id="failback-force"`) {
		t.Errorf("failback not offered to a terminated primary:\n%s", body)
	}
	peer.State, peer.PeerState = "PRIMARY_ACTIVE", "SECONDARY_ACTIVE"
	c.b.mu.Lock()
	c.b.st.State, c.b.st.Peers = "PRIMARY_ACTIVE", []api.PeerStatus{peer}
	c.b.mu.Unlock()
	body = c.get("/ui/ha").Body.String()
	if strings.Contains(body, `id="switchover" disabled`) || !strings.Contains(body, `id="failback" disabled`) || strings.Contains(body, `id="failback-force"`) {
		t.Errorf("a steady pair's operations:\n%s", body)
	}
}

// TestEndSessionsLogsEveryoneOut: after a password change (hmd calls
// EndSessions) a session opened with the old password no longer opens a
// page or posts a form.
func TestEndSessionsLogsEveryoneOut(t *testing.T) {
	c := newConsole(t)
	csrf := c.login()
	c.s.EndSessions()
	if w := c.get("/ui/ha"); w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/ui/login") {
		t.Errorf("GET /ui/ha after EndSessions: %d to %q, want the login page", w.Code, w.Header().Get("Location"))
	}
	if w := c.post("/ui/ha/switchover", url.Values{"peer": {"10.201.0.3"}, "csrf": {csrf}}); w.Code != http.StatusUnauthorized {
		t.Errorf("POST after EndSessions: %d, want 401", w.Code)
	}
	if _, ops := c.b.calls(); len(ops) != 0 {
		t.Errorf("an ended session ran %v", ops)
	}
}

// TestSessionListing: the listing numbers sessions in the order they
// opened, shows the browser's address and times, never a session's cookie
// or CSRF token, and leaves expired sessions out.
func TestSessionListing(t *testing.T) {
	c := newConsole(t)
	start := c.now
	first := c.login()
	firstCookie := c.cookie
	c.now = c.now.Add(10 * time.Minute)
	c.cookie = nil
	second := c.login()
	secondCookie := c.cookie
	c.now = c.now.Add(5 * time.Minute)
	c.cookie = firstCookie
	if w := c.get("/ui/status"); w.Code != http.StatusOK {
		t.Fatalf("first session: %d", w.Code)
	}
	got := c.s.Sessions()
	want := []api.Session{
		{ID: 1, User: "admin", UserID: 1, IP: "192.0.2.1", Started: start, LastAccess: start.Add(15 * time.Minute)},
		{ID: 2, User: "admin", UserID: 1, IP: "192.0.2.1", Started: start.Add(10 * time.Minute), LastAccess: start.Add(10 * time.Minute)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("sessions\n got %+v\nwant %+v", got, want)
	}
	js, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{firstCookie.Value, secondCookie.Value, first, second} {
		if strings.Contains(string(js), secret) {
			t.Errorf("the listing shows a secret: %s", js)
		}
	}
	// The second session idles out; the first, used five minutes later,
	// has not.
	c.now = start.Add(10*time.Minute + SessionIdle)
	if got := c.s.Sessions(); len(got) != 1 || got[0].ID != 1 {
		t.Errorf("after the second expired: %+v", got)
	}
	c.s.EndSessions()
	if got := c.s.Sessions(); len(got) != 0 {
		t.Errorf("after EndSessions: %+v", got)
	}
}
