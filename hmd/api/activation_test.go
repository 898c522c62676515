package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/refusal"
	"github.com/hafw/hafw/internal/tlsid"
)

// consoleRecorder adds the activation deletion and the recovering
// primary's request to the recorder.
type consoleRecorder struct {
	recorder
	removed     int
	deactivated []DeactivateRequest
	recovered   []RecoverFromRequest
}

func (r *consoleRecorder) RemoveActivation(context.Context) (LicenseResult, error) {
	r.removed++
	if r.removed > 1 {
		return LicenseResult{}, refusal.New(refusal.NotActivated, "mse2 holds no activation license: nothing to delete")
	}
	return LicenseResult{Message: "deleted", Identity: IdentityInfo{Activation: StatusNotActivated}}, nil
}

func (r *consoleRecorder) DeactivateSecondary(_ context.Context, req DeactivateRequest) (LicenseResult, error) {
	r.deactivated = append(r.deactivated, req)
	return LicenseResult{Message: "deleted on mse2"}, nil
}

func (r *consoleRecorder) RecoverFromSecondary(_ context.Context, req RecoverFromRequest) (Result, error) {
	r.recovered = append(r.recovered, req)
	if req.PrimaryPassword != "primary-password" {
		return Result{}, &refusal.Error{Reason: refusal.PeerRefused, Message: "the peer refused: the primary refused the password",
			Fields: []refusal.Field{{Name: "primary_password", Reason: "is not the primary's password"}}}
	}
	return Result{Message: "Configuration restored to the primary 10.10.10.12"}, nil
}

// TestActivationAndRecoverFromRoutes: the routes need the appliance
// password; a request that does not pin the secondary's certificate, or
// lacks a password, is refused field by field before the backend is asked;
// the daemon's typed refusals come back with their status and fields.
func TestActivationAndRecoverFromRoutes(t *testing.T) {
	id, err := tlsid.LoadOrCreate(t.TempDir(), "mse1")
	if err != nil {
		t.Fatal(err)
	}
	hash, err := config.HashPassword("secret-password")
	if err != nil {
		t.Fatal(err)
	}
	rec := &consoleRecorder{}
	ap := serveTLS(t, rec, id, hash)
	ctx := context.Background()
	fp := strings.Repeat("ab", 32)
	sec := SecondaryRequest{SecondaryIP: "10.10.10.13", SecondaryPassword: "pw", SecondaryFingerprint: fp}

	anon := remote(ap, RemoteOptions{})
	for name, call := range map[string]func() error{
		"remove":     func() error { _, err := anon.RemoveActivation(ctx); return err },
		"deactivate": func() error { _, err := anon.DeactivateSecondary(ctx, DeactivateRequest{sec}); return err },
		"recover": func() error {
			_, err := anon.RecoverFromSecondary(ctx, RecoverFromRequest{sec, "primary-password"})
			return err
		},
	} {
		var ae *Error
		if err := call(); !errors.As(err, &ae) || ae.Code != http.StatusUnauthorized {
			t.Errorf("%s without password: %v, want 401", name, err)
		}
	}
	if rec.removed+len(rec.deactivated)+len(rec.recovered) != 0 {
		t.Fatal("an unauthenticated request reached the backend")
	}

	c := remote(ap, RemoteOptions{Password: "secret-password"})
	bad := func(name string, err error, fields ...string) {
		t.Helper()
		var ae *Error
		if !errors.As(err, &ae) || ae.Code != http.StatusBadRequest {
			t.Errorf("%s: %v, want 400", name, err)
			return
		}
		var got []string
		for _, f := range ae.Fields {
			got = append(got, f.Field)
		}
		if strings.Join(got, ",") != strings.Join(fields, ",") {
			t.Errorf("%s: fields %q, want %q", name, got, fields)
		}
	}
	unpinned := SecondaryRequest{SecondaryIP: "10.10.10.13", SecondaryPassword: "pw"}
	_, err = c.DeactivateSecondary(ctx, DeactivateRequest{unpinned})
	bad("deactivate unpinned", err, "secondary_fingerprint")
	_, err = c.DeactivateSecondary(ctx, DeactivateRequest{SecondaryRequest{SecondaryIP: "10.10.10.300", SecondaryFingerprint: "ABC"}})
	bad("deactivate bad input", err, "secondary_ip", "secondary_password", "secondary_fingerprint")
	_, err = c.RecoverFromSecondary(ctx, RecoverFromRequest{unpinned, ""})
	bad("recover unpinned, no primary password", err, "secondary_fingerprint", "primary_password")
	_, err = c.RecoverFromSecondary(ctx, RecoverFromRequest{SecondaryRequest{SecondaryIP: "nope", SecondaryPassword: "pw", SecondaryFingerprint: fp}, "x"})
	bad("recover bad address", err, "secondary_ip")
	if len(rec.deactivated)+len(rec.recovered) != 0 {
		t.Fatalf("invalid requests reached the backend: %+v %+v", rec.deactivated, rec.recovered)
	}

	if res, err := c.DeactivateSecondary(ctx, DeactivateRequest{sec}); err != nil || res.Message != "deleted on mse2" || rec.deactivated[0] != (DeactivateRequest{sec}) {
		t.Errorf("deactivate: %+v, %v; backend got %+v", res, err, rec.deactivated)
	}
	if res, err := c.RemoveActivation(ctx); err != nil || res.Identity.Activation != StatusNotActivated {
		t.Errorf("remove: %+v, %v", res, err)
	}
	var ae *Error
	if _, err := c.RemoveActivation(ctx); !errors.As(err, &ae) || ae.Code != http.StatusConflict || !strings.Contains(ae.Message, "no activation license") {
		t.Errorf("remove with none installed: %v, want 409 with the reason", err)
	}
	if _, err := c.RecoverFromSecondary(ctx, RecoverFromRequest{sec, "wrong"}); !errors.As(err, &ae) || len(ae.Fields) != 1 || ae.Fields[0].Field != "primary_password" {
		t.Errorf("recover with a wrong primary password: %v, want the field named", err)
	}
	if res, err := c.RecoverFromSecondary(ctx, RecoverFromRequest{sec, "primary-password"}); err != nil || !strings.Contains(res.Message, "restored") {
		t.Errorf("recover: %+v, %v", res, err)
	}
}
