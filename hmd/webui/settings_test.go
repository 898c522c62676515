package webui

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hafw/hafw/hmd/api"
)

// UpdateSettings applies the change to the fake's one pair with the API's
// own rules, as the daemon does, and takes it only when they pass.
func (f *fakeBackend) UpdateSettings(_ context.Context, req api.SettingsRequest) (api.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := &f.st.Peers[0]
	cur := api.PairSettings{FailoverType: p.FailoverType, FailbackType: p.FailbackType, FailoverWaitMS: p.FailoverWaitMS, HeartbeatIntervalMS: p.HeartbeatIntervalMS,
		WitnessRef: api.WitnessRef{Witness: p.Witness}}
	next, err := req.Apply(cur)
	if err != nil {
		return api.Result{}, err
	}
	f.settings = append(f.settings, req)
	p.FailoverType, p.FailbackType, p.FailoverWaitMS, p.HeartbeatIntervalMS, p.Witness = next.FailoverType, next.FailbackType, next.FailoverWaitMS, next.HeartbeatIntervalMS, next.Witness
	return api.Result{Message: "Configuration updated on both appliances"}, nil
}

func (f *fakeBackend) PeerSettings(context.Context, api.PeerSettingsRequest, string) (api.Result, error) {
	return api.Result{}, nil
}

func (f *fakeBackend) taken() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.settings)
}

// TestSettingsForm: the paired page shows the pair's settings in a form;
// Save sends only what the operator changed, through the API's decoder
// and checks; a bad value is shown next to its field with nothing
// changed; a post without the session's CSRF token is refused.
func TestSettingsForm(t *testing.T) {
	c := newConsole(t)
	c.b.st.Peers = []api.PeerStatus{{Name: "mse2", HealthMonitorIP: "10.201.0.3", State: "PRIMARY_ACTIVE",
		FailoverType: api.Manual, FailbackType: api.Manual, FailoverWaitMS: 10000, HeartbeatIntervalMS: 2000}}
	csrf := c.login()

	w := c.get("/ui/ha")
	body := w.Body.String()
	for _, want := range []string{`id="settings-form"`, `name="long_failover_wait" value="10s"`, `name="heartbeat_interval" value="2s"`, `<option value="manual" selected>`} {
		if !strings.Contains(body, want) {
			t.Fatalf("paired page lacks %s:\n%s", want, body)
		}
	}
	form := func(edit map[string]string) url.Values {
		v := url.Values{"csrf": {csrf}, "peer": {"10.201.0.3"}}
		for k, val := range settingsValues(c.b.st.Peers[0]) {
			v.Set(k, val)
		}
		for k, val := range edit {
			v.Set(k, val)
		}
		return v
	}

	// Without the CSRF token.
	bad := form(map[string]string{"failover_type": api.Automatic})
	bad.Del("csrf")
	if w := c.post("/ui/ha/settings", bad); w.Code != http.StatusForbidden || c.b.taken() != 0 {
		t.Fatalf("post without CSRF: %d, %d changes taken", w.Code, c.b.taken())
	}

	// Bad input: the reason next to the field, nothing changed.
	for _, tc := range []struct {
		edit         map[string]string
		field, words string
	}{
		{map[string]string{"heartbeat_interval": "9s"}, "heartbeat_interval", "a third of the failover wait"},
		{map[string]string{"long_failover_wait": "soon"}, "long_failover_wait", "is not a duration"},
		{map[string]string{"long_failover_wait": "3600"}, "long_failover_wait", "outside"},
		{map[string]string{"failover_type": "sometimes"}, "failover_type", `must be "automatic" or "manual"`},
		{map[string]string{"witness": "10.201.0", "witness_password": "pw", "witness_fingerprint": strings.Repeat("ab", 32)}, "witness", "not a unicast IPv4 address"},
		{map[string]string{"witness": "10.201.0.4", "witness_fingerprint": strings.Repeat("ab", 32)}, "witness_password", "is required"},
	} {
		w := c.post("/ui/ha/settings", form(tc.edit))
		if got := fieldError(w.Body.String(), tc.field); w.Code != http.StatusBadRequest || !strings.Contains(got, tc.words) {
			t.Errorf("%v: %d, %s error %q; want 400 and %q", tc.edit, w.Code, tc.field, got, tc.words)
		}
		if c.b.taken() != 0 {
			t.Fatalf("%v was taken", tc.edit)
		}
	}

	// A good change: only the changed fields are sent.
	w = c.post("/ui/ha/settings", form(map[string]string{"failover_type": api.Automatic, "long_failover_wait": "5"}))
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/ha?peer=10.201.0.3" || c.b.taken() != 1 {
		t.Fatalf("save: %d %q, %d changes taken", w.Code, w.Header().Get("Location"), c.b.taken())
	}
	req := c.b.settings[0]
	if req.Peer != "10.201.0.3" || req.FailoverType == nil || *req.FailoverType != api.Automatic || req.FailbackType != nil || req.HeartbeatInterval != nil || req.Witness != nil {
		t.Errorf("sent %+v", req)
	}
	// The default interval followed the new wait.
	if p := c.b.st.Peers[0]; p.FailoverWaitMS != 5000 || p.HeartbeatIntervalMS != 1000 {
		t.Errorf("pair now %+v", p)
	}
	if body := c.get("/ui/ha").Body.String(); !strings.Contains(body, "Configuration updated on both appliances") || !strings.Contains(body, `name="long_failover_wait" value="5s"`) {
		t.Errorf("page after the change:\n%s", body)
	}
}
