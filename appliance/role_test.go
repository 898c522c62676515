package appliance

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hafw/hafw/board"
	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/licensing"
)

// TestEligibilityMatrix is the whole rule in one table: each kind of
// machine (a physical appliance, a VMware virtual appliance, a machine
// that is neither) with and without a hafw.profile= that changes its
// class, × an activation license for its UDI installed or not, ×
// hafw.recovery, × a pairing stored or not. Every row goes the way the
// init agent and hmd go: the kernel command line parsed, the identity
// resolved from the board fixture, the licenses verified from a real
// license directory, then DecideRole. The configuration is a primary's.
func TestEligibilityMatrix(t *testing.T) {
	const (
		primary = config.RolePrimary
		none    = config.RoleNone
	)
	pub, priv, err := licensing.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "vendor.pub")
	if err := licensing.WritePublicKey(keyFile, pub); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Hostname, cfg.Role = "mse1", config.RolePrimary
	for _, tc := range []struct {
		machine, cmdlineProfile     string
		licensed, recovery, pairing bool
		role                        config.Role
		reason                      Reason
		model                       string
	}{
		// mse-3355: a physical appliance, always activated
		{"mse-3355", "", false, false, false, primary, Configured, "3355"},
		{"mse-3355", "", false, false, true, primary, Configured, "3355"},
		{"mse-3355", "", false, true, false, none, Recovery, "3355"},
		{"mse-3355", "", false, true, true, primary, RecoveryComplete, "3355"},
		{"mse-3355", "", true, false, false, primary, Configured, "3355"},
		{"mse-3355", "", true, false, true, primary, Configured, "3355"},
		{"mse-3355", "", true, true, false, none, Recovery, "3355"},
		{"mse-3355", "", true, true, true, primary, RecoveryComplete, "3355"},
		// mse-3355, hafw.profile=VA-Low: a virtual appliance, activated by its license
		{"mse-3355", "VA-Low", false, false, false, none, NotActivated, "VA-Low"},
		{"mse-3355", "VA-Low", false, false, true, none, NotActivated, "VA-Low"},
		{"mse-3355", "VA-Low", false, true, false, none, Recovery, "VA-Low"},
		{"mse-3355", "VA-Low", false, true, true, none, NotActivated, "VA-Low"},
		{"mse-3355", "VA-Low", true, false, false, primary, Configured, "VA-Low"},
		{"mse-3355", "VA-Low", true, false, true, primary, Configured, "VA-Low"},
		{"mse-3355", "VA-Low", true, true, false, none, Recovery, "VA-Low"},
		{"mse-3355", "VA-Low", true, true, true, primary, RecoveryComplete, "VA-Low"},
		// vmware-va-low: a virtual appliance, activated by its license
		{"vmware-va-low", "", false, false, false, none, NotActivated, "VA-Low"},
		{"vmware-va-low", "", false, false, true, none, NotActivated, "VA-Low"},
		{"vmware-va-low", "", false, true, false, none, Recovery, "VA-Low"},
		{"vmware-va-low", "", false, true, true, none, NotActivated, "VA-Low"},
		{"vmware-va-low", "", true, false, false, primary, Configured, "VA-Low"},
		{"vmware-va-low", "", true, false, true, primary, Configured, "VA-Low"},
		{"vmware-va-low", "", true, true, false, none, Recovery, "VA-Low"},
		{"vmware-va-low", "", true, true, true, primary, RecoveryComplete, "VA-Low"},
		// vmware-va-low, hafw.profile=3355: a physical appliance, always activated
		{"vmware-va-low", "3355", false, false, false, primary, Configured, "3355"},
		{"vmware-va-low", "3355", false, false, true, primary, Configured, "3355"},
		{"vmware-va-low", "3355", false, true, false, none, Recovery, "3355"},
		{"vmware-va-low", "3355", false, true, true, primary, RecoveryComplete, "3355"},
		{"vmware-va-low", "3355", true, false, false, primary, Configured, "3355"},
		{"vmware-va-low", "3355", true, false, true, primary, Configured, "3355"},
		{"vmware-va-low", "3355", true, true, false, none, Recovery, "3355"},
		{"vmware-va-low", "3355", true, true, true, primary, RecoveryComplete, "3355"},
		// kvm-qemu: not an appliance: identity unknown (there is no UDI to
		// license, so "licensed" installs nothing)
		{"kvm-qemu", "", false, false, false, none, IdentityUnknown, ""},
		{"kvm-qemu", "", false, false, true, none, IdentityUnknown, ""},
		{"kvm-qemu", "", false, true, false, none, Recovery, ""},
		{"kvm-qemu", "", false, true, true, none, IdentityUnknown, ""},
		{"kvm-qemu", "", true, false, false, none, IdentityUnknown, ""},
		{"kvm-qemu", "", true, false, true, none, IdentityUnknown, ""},
		{"kvm-qemu", "", true, true, false, none, Recovery, ""},
		{"kvm-qemu", "", true, true, true, none, IdentityUnknown, ""},
		// kvm-qemu, hafw.profile=VA-Low: a virtual appliance, activated by its license
		{"kvm-qemu", "VA-Low", false, false, false, none, NotActivated, "VA-Low"},
		{"kvm-qemu", "VA-Low", false, false, true, none, NotActivated, "VA-Low"},
		{"kvm-qemu", "VA-Low", false, true, false, none, Recovery, "VA-Low"},
		{"kvm-qemu", "VA-Low", false, true, true, none, NotActivated, "VA-Low"},
		{"kvm-qemu", "VA-Low", true, false, false, primary, Configured, "VA-Low"},
		{"kvm-qemu", "VA-Low", true, false, true, primary, Configured, "VA-Low"},
		{"kvm-qemu", "VA-Low", true, true, false, none, Recovery, "VA-Low"},
		{"kvm-qemu", "VA-Low", true, true, true, primary, RecoveryComplete, "VA-Low"},
	} {
		cmdline := "console=ttyS0"
		if tc.cmdlineProfile != "" {
			cmdline += " hafw.profile=" + tc.cmdlineProfile
		}
		if tc.recovery {
			cmdline += " hafw.recovery"
		}
		name := tc.machine + " " + cmdline
		if tc.licensed {
			name += " licensed"
		}
		if tc.pairing {
			name += " paired"
		}
		t.Run(name, func(t *testing.T) {
			boot := ParseCmdline(cmdline)
			id, err := Resolve(Sources{Board: board.System{Root: filepath.Join("..", "board", "testdata", tc.machine)}, Cmdline: boot, Config: cfg})
			var ent Entitlement
			if err == nil {
				lic := LicenseFiles{Dir: t.TempDir(), VendorKey: keyFile}
				if tc.licensed {
					install(t, lic, id, priv)
				}
				if ent, err = lic.Load(id); err != nil {
					t.Fatal(err)
				}
			} else if tc.model != "" {
				t.Fatalf("resolve: %v", err)
			}
			if id.Profile.Model != tc.model {
				t.Errorf("profile %q, want %q", id.Profile.Model, tc.model)
			}
			got := DecideRole(cfg, ent, boot.Recovery, tc.pairing)
			if got.Role != tc.role || got.Reason != tc.reason || got.Recovery != (tc.reason == Recovery) {
				t.Errorf("decision %+v (%s), want role %s reason %s", got, got, tc.role, tc.reason)
			}
			if got.Eligible() != (tc.role != none) {
				t.Errorf("Eligible() = %v for %+v", got.Eligible(), got)
			}
		})
	}
}

// install puts an activation license for id's UDI into the directory.
func install(t *testing.T, f LicenseFiles, id Identity, priv ed25519.PrivateKey) {
	t.Helper()
	data, err := licensing.Issue(priv, licensing.License{Feature: licensing.Activation, Count: 1, UDI: id.UDI, Issued: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	store, err := f.Store(id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Install(data); err != nil {
		t.Fatal(err)
	}
}

// TestProfileOverrideOrder: the kernel command line beats the
// configuration, which beats the image; none leaves it to the hardware.
func TestProfileOverrideOrder(t *testing.T) {
	for _, tc := range []struct {
		cmdline, configured, image string
		want                       string
		from                       ProfileSource
	}{
		{"VA-Low", "3355", "VA-High", "VA-Low", FromCmdline},
		{"", "3355", "VA-High", "3355", FromConfig},
		{"", " ", "VA-High", "VA-High", FromImage},
		{"", "", "", "", FromHardware},
	} {
		got, from := ProfileOverride(tc.cmdline, tc.configured, tc.image)
		if got != tc.want || from != tc.from {
			t.Errorf("ProfileOverride(%q, %q, %q) = %q from %s, want %q from %s", tc.cmdline, tc.configured, tc.image, got, from, tc.want, tc.from)
		}
	}
}

// TestResolveReadsTheImageProfile: the image's profile file counts when
// neither the command line nor the configuration names one, and the UDI is
// board's (a virtual appliance's serial is <hostname>_<uuid>).
func TestResolveReadsTheImageProfile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "profile")
	if err := os.WriteFile(file, []byte("VA-Low\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Hostname = "mse2"
	id, err := Resolve(Sources{Board: board.System{Root: filepath.Join("..", "board", "testdata", "kvm-qemu")}, Config: cfg, ProfileFile: file})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := board.Detect(board.System{Root: filepath.Join("..", "board", "testdata", "kvm-qemu")}, "mse2", "VA-Low")
	if err != nil {
		t.Fatal(err)
	}
	if id.Profile.Model != "VA-Low" || id.Source != FromImage || id.UDI != pl.UDI {
		t.Errorf("identity %s %s from %s, want VA-Low %s from the image", id.Profile.Model, id.UDI, id.Source, pl.UDI)
	}
}

// TestReasonCodes: every reason has a code that reads back and a text.
func TestReasonCodes(t *testing.T) {
	for r := Configured; r <= NotActivated; r++ {
		b, err := r.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Reason
		if err := back.UnmarshalText(b); err != nil || back != r {
			t.Errorf("%s read back as %v, %v", b, back, err)
		}
		if r.Text() == r.String() {
			t.Errorf("%s has no operator text", r)
		}
	}
	var r Reason
	if err := r.UnmarshalText([]byte("licensed-enough")); err == nil {
		t.Error("an unknown code was accepted")
	}
	d := Decision{Role: config.RoleNone, Reason: NotActivated}
	if got := d.String(); got != "HA role: none (reason: virtual appliance not activated)" {
		t.Errorf("decision line %q", got)
	}
}
