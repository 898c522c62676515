package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/refusal"
	"github.com/hafw/hafw/hwprofiles"
	"github.com/hafw/hafw/licensing"
)

// TestLicenseThroughTheAPI installs licenses with the real license store:
// a refused file changes nothing and says why on the license field, a good
// one activates the appliance and Identify says so.
func TestLicenseThroughTheAPI(t *testing.T) {
	prof, err := hwprofiles.Lookup("VA-Low")
	if err != nil {
		t.Fatal(err)
	}
	udi, err := licensing.ParseUDI(prof.ProductID + ":V01:mse2")
	if err != nil {
		t.Fatal(err)
	}
	other, err := licensing.ParseUDI(prof.ProductID + ":V01:other")
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := licensing.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	st := licensing.Store{Dir: t.TempDir(), Pub: pub, UDI: udi}
	activated := func() (bool, error) {
		valid, _, err := st.LoadVerified()
		if err != nil {
			return false, err
		}
		return licensing.Summarize(prof, valid).Activated(), nil
	}
	d := &Daemon{opt: Options{Config: secondaryConfig(), Version: "1.0", UDI: udi.String(), Profile: prof, Activated: activated, InstallLicense: st.Install},
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), hip: netip.MustParseAddr("10.10.10.13")}
	ctx := context.Background()

	info, err := d.Identify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := api.IdentityInfo{Name: "mse2", HIP: "10.10.10.13", Role: "secondary", UDI: udi.String(), Profile: "VA-Low", Version: "1.0", Activation: api.StatusNotActivated}
	if info != want {
		t.Fatalf("Identify = %+v, want %+v", info, want)
	}

	issue := func(u licensing.UDI) string {
		data, err := licensing.Issue(priv, licensing.License{Feature: licensing.Activation, Count: 1, UDI: u, Issued: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	good := issue(udi)
	tampered := strings.Replace(good, "count: 1", "count: 9", 1)
	if tampered == good {
		t.Fatalf("the license text has no count line to tamper with:\n%s", good)
	}
	for name, text := range map[string]string{
		"another machine's": issue(other),
		"malformed":         "hello",
		"tampered":          tampered,
	} {
		_, err := d.InstallLicense(ctx, api.LicenseRequest{License: text})
		var re *refusal.Error
		if !errors.As(err, &re) || re.Reason != refusal.LicenseRefused || len(re.Fields) != 1 || re.Fields[0].Name != "license" || strings.Contains(re.Message, "\n") {
			t.Errorf("%s license: %v, want a one-line refusal on the license field", name, err)
		}
		if files, _ := os.ReadDir(st.Dir); len(files) != 0 {
			t.Fatalf("%s license left %d files", name, len(files))
		}
	}
	res, err := d.InstallLicense(ctx, api.LicenseRequest{License: issue(udi)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Identity.Activation != api.StatusActivated || !strings.Contains(res.Message, "installed on mse2") {
		t.Errorf("install: %+v", res)
	}

	// Delete Secondary Activation license: the appliance is not activated
	// afterwards, and a second delete is refused with the reason.
	d.opt.RemoveActivation = func() ([]licensing.License, error) { return st.RemoveFeature(licensing.Activation) }
	res, err = d.RemoveActivation(ctx)
	if err != nil || res.Identity.Activation != api.StatusNotActivated || !strings.Contains(res.Message, "deleted from mse2") {
		t.Errorf("delete the activation license: %+v, %v", res, err)
	}
	if files, _ := os.ReadDir(st.Dir); len(files) != 0 {
		t.Errorf("the activation license is still installed: %d files", len(files))
	}
	if _, err := d.RemoveActivation(ctx); !isRefusal(err, refusal.NotActivated) {
		t.Errorf("delete with none installed: %v, want a NotActivated refusal", err)
	}

	d.opt.InstallLicense, d.opt.RemoveActivation = nil, nil
	if _, err := d.InstallLicense(ctx, api.LicenseRequest{License: issue(udi)}); !isRefusal(err, refusal.Unsupported) {
		t.Errorf("without an installer: %v", err)
	}
	if _, err := d.RemoveActivation(ctx); !isRefusal(err, refusal.Unsupported) {
		t.Errorf("without a remover: %v", err)
	}
	// Only a primary in recovery mode asks its secondary for a restore.
	if _, err := d.RecoverFromSecondary(ctx, api.RecoverFromRequest{SecondaryRequest: api.SecondaryRequest{SecondaryIP: "10.10.10.12", SecondaryPassword: "pw", SecondaryFingerprint: strings.Repeat("ab", 32)}, PrimaryPassword: "pw"}); !isRefusal(err, refusal.NotInRecovery) {
		t.Errorf("restore asked outside recovery mode: %v", err)
	}
}

// isRefusal reports whether err is a refusal for reason.
func isRefusal(err error, reason refusal.Reason) bool {
	var re *refusal.Error
	return errors.As(err, &re) && re.Reason == reason
}
