package api

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/tlsid"
)

// TestSettingsRequest: an update is checked with pairing's rules, field by
// field and then against the pair's current timing; a refused one names
// the operator's field and leaves the current settings untouched.
func TestSettingsRequest(t *testing.T) {
	fp := strings.Repeat("cd", 32)
	cur := PairSettings{FailoverType: Manual, FailbackType: Manual, FailoverWaitMS: 10000, HeartbeatIntervalMS: 2000}
	custom := PairSettings{FailoverType: Manual, FailbackType: Manual, FailoverWaitMS: 10000, HeartbeatIntervalMS: 500}
	for _, tc := range []struct {
		name string
		cur  PairSettings
		body string
		// fields is the refusal's fields in order; nil: accepted as want.
		fields []string
		want   PairSettings
	}{
		{"nothing", cur, `{}`, nil, cur},
		{"failover mode", cur, `{"failover_type":"automatic"}`, nil,
			PairSettings{FailoverType: Automatic, FailbackType: Manual, FailoverWaitMS: 10000, HeartbeatIntervalMS: 2000}},
		{"a default interval follows the wait", cur, `{"long_failover_wait":"2s"}`, nil,
			PairSettings{FailoverType: Manual, FailbackType: Manual, FailoverWaitMS: 2000, HeartbeatIntervalMS: 400}},
		{"a chosen interval stays", custom, `{"long_failover_wait":3}`, nil,
			PairSettings{FailoverType: Manual, FailbackType: Manual, FailoverWaitMS: 3000, HeartbeatIntervalMS: 500}},
		{"wait and interval", cur, `{"long_failover_wait":"1s","heartbeat_interval":"100ms"}`, nil,
			PairSettings{FailoverType: Manual, FailbackType: Manual, FailoverWaitMS: 1000, HeartbeatIntervalMS: 100}},
		{"witness", cur, `{"witness":"10.200.0.4","witness_password":"pw","witness_fingerprint":"` + fp + `"}`, nil,
			PairSettings{FailoverType: Manual, FailbackType: Manual, FailoverWaitMS: 10000, HeartbeatIntervalMS: 2000, WitnessRef: WitnessRef{"10.200.0.4", "pw", fp}}},
		{"witness removed", PairSettings{FailoverType: Manual, FailbackType: Manual, FailoverWaitMS: 10000, HeartbeatIntervalMS: 2000, WitnessRef: WitnessRef{"10.200.0.4", "pw", fp}},
			`{"witness":""}`, nil, cur},

		{"wrong mode", cur, `{"failover_type":"sometimes"}`, []string{"failover_type"}, cur},
		{"mode of the wrong type", cur, `{"failback_type":1}`, []string{"failback_type"}, cur},
		{"wait of the wrong type", cur, `{"long_failover_wait":true}`, []string{"long_failover_wait"}, cur},
		{"wait not a duration", cur, `{"long_failover_wait":"soon"}`, []string{"long_failover_wait"}, cur},
		{"wait too short", cur, `{"long_failover_wait":"50ms"}`, []string{"long_failover_wait"}, cur},
		{"wait too long", cur, `{"long_failover_wait":"1h"}`, []string{"long_failover_wait"}, cur},
		{"interval not below the wait", cur, `{"heartbeat_interval":"5s"}`, []string{"heartbeat_interval"}, cur},
		{"a kept interval no longer fits a shorter wait", custom, `{"long_failover_wait":"1s"}`, []string{"heartbeat_interval"}, custom},
		{"interval too short", cur, `{"heartbeat_interval":"1ms"}`, []string{"heartbeat_interval"}, cur},
		{"malformed witness", cur, `{"witness":"10.200.0","witness_password":"pw","witness_fingerprint":"` + fp + `"}`, []string{"witness"}, cur},
		{"witness without its password", cur, `{"witness":"10.200.0.4","witness_fingerprint":"` + fp + `"}`, []string{"witness_password"}, cur},
		{"witness unpinned", cur, `{"witness":"10.200.0.4","witness_password":"pw"}`, []string{"witness_fingerprint"}, cur},
		{"witness password without a witness", cur, `{"witness_password":"pw"}`, []string{"witness"}, cur},
		{"malformed peer", cur, `{"peer":"mse2"}`, []string{"peer"}, cur},
		{"unknown field", cur, `{"failover":"automatic"}`, []string{"failover"}, cur},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := Decode[SettingsRequest](strings.NewReader(tc.body))
			got := tc.cur
			if err == nil {
				got, err = req.Apply(tc.cur)
			}
			var ae *Error
			switch {
			case tc.fields == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.fields != nil && !errors.As(err, &ae):
				t.Fatalf("accepted (%+v), want a refusal of %v", got, tc.fields)
			case tc.fields != nil:
				var fields []string
				for _, f := range ae.Fields {
					fields = append(fields, f.Field)
				}
				if ae.Code != 400 || !slices.Equal(fields, tc.fields) {
					t.Fatalf("refusal %d %v, want 400 on %v", ae.Code, ae, tc.fields)
				}
			}
			if got != tc.want {
				t.Fatalf("settings %+v, want %+v", got, tc.want)
			}
			if tc.fields == nil {
				// What the peer is sent passes the peer's own decoder.
				p := PeerSettingsRequest{got}
				if f := p.validate(); len(f) > 0 {
					t.Fatalf("the peer would refuse %+v: %v", got, f)
				}
			}
		})
	}
}

// settingsRecorder is a backend that records settings changes.
type settingsRecorder struct {
	recorder
	update SettingsRequest
	peer   PeerSettingsRequest
	peerFP string
}

func (r *settingsRecorder) UpdateSettings(_ context.Context, req SettingsRequest) (Result, error) {
	r.update = req
	return Result{Message: "Configuration updated"}, nil
}

func (r *settingsRecorder) PeerSettings(_ context.Context, req PeerSettingsRequest, fp string) (Result, error) {
	r.peer, r.peerFP = req, fp
	return Result{Message: "configuration updated"}, nil
}

// TestSettingsRoutesAuthentication: the operator's change needs the
// appliance password; the peer's half needs no password but a client
// certificate, whose fingerprint the backend gets to check against its
// paired peers; the peer's request is decoded strictly too.
func TestSettingsRoutesAuthentication(t *testing.T) {
	dir := t.TempDir()
	srvID, err := tlsid.LoadOrCreate(dir+"/srv", "mse2")
	if err != nil {
		t.Fatal(err)
	}
	cliID, err := tlsid.LoadOrCreate(dir+"/cli", "mse1")
	if err != nil {
		t.Fatal(err)
	}
	hash, err := config.HashPassword("secret-password")
	if err != nil {
		t.Fatal(err)
	}
	rec := &settingsRecorder{}
	ap := serveTLS(t, rec, srvID, hash)
	ctx := context.Background()
	auto := Automatic
	if _, err := remote(ap, RemoteOptions{ClientCert: &cliID.Cert}).UpdateSettings(ctx, SettingsRequest{FailoverType: &auto}); !PasswordRefused(err) || rec.update.FailoverType != nil {
		t.Fatalf("change without the password: %v (backend got %+v)", err, rec.update)
	}
	if _, err := remote(ap, RemoteOptions{Password: "secret-password"}).UpdateSettings(ctx, SettingsRequest{FailoverType: &auto}); err != nil || rec.update.FailoverType == nil {
		t.Fatalf("change with the password: %v (backend got %+v)", err, rec.update)
	}
	ps := PeerSettingsRequest{PairSettings{FailoverType: Automatic, FailbackType: Manual, FailoverWaitMS: 1000, HeartbeatIntervalMS: 200}}
	if _, err := remote(ap, RemoteOptions{Password: "secret-password"}).PeerSettings(ctx, ps); !PasswordRefused(err) || rec.peerFP != "" {
		t.Fatalf("peer settings without a client certificate: %v (backend got %q)", err, rec.peerFP)
	}
	bad := ps
	bad.HeartbeatIntervalMS = 900
	var ae *Error
	if _, err := remote(ap, RemoteOptions{ClientCert: &cliID.Cert}).PeerSettings(ctx, bad); !errors.As(err, &ae) || ae.Code != 400 || rec.peerFP != "" {
		t.Fatalf("peer settings with an interval not below the wait: %v (backend got %q)", err, rec.peerFP)
	}
	if _, err := remote(ap, RemoteOptions{ClientCert: &cliID.Cert}).PeerSettings(ctx, ps); err != nil || rec.peerFP != cliID.Fingerprint || rec.peer != ps {
		t.Fatalf("peer settings: %v (backend got %+v from %q)", err, rec.peer, rec.peerFP)
	}
}
