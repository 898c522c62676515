package webui

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/api"
)

// FuzzPairForm feeds arbitrary form bodies through the form-to-API path:
// it must never panic, an accepted request must be one the API would
// accept, and a refusal must say something the page can show.
func FuzzPairForm(f *testing.F) {
	f.Add("secondary_name=mse2&secondary_ip=10.0.0.3&secondary_password=pw&failover_type=automatic&failback_type=manual&long_failover_wait=10")
	f.Add("secondary_name=mse2&secondary_ip=10.0.0.3&secondary_password=pw&failover_type=manual&failback_type=manual&long_failover_wait=500ms&heartbeat_interval=100ms")
	f.Add("long_failover_wait=1e308&heartbeat_interval=-1")
	f.Add("secondary_ip=%00&secondary_name=%E2%80%AE")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		req, err := pairRequest(form)
		if err != nil {
			byField, general := formErrors(err, pairFields())
			if len(byField) == 0 && strings.TrimSpace(general) == "" {
				t.Fatalf("refusal with nothing to show: %v", err)
			}
			return
		}
		wait := time.Duration(req.LongFailoverWait)
		if wait < api.MinFailoverWait || wait > api.MaxFailoverWait || req.SecondaryPassword == "" {
			t.Fatalf("accepted an invalid request %+v", req)
		}
	})
}

// FuzzSafeNext: whatever a login link carries, the browser stays inside
// the console.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/ui/ha", "//evil", "/ui/\\x", "https://x/ui/", "/ui/../v1/status"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if !strings.HasPrefix(got, Prefix) || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\r\n") {
			t.Fatalf("safeNext(%q) = %q leaves the console", next, got)
		}
	})
}
