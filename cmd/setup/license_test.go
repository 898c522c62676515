package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hafw/hafw/internal/ptytest"
	"github.com/hafw/hafw/licensing"
	"github.com/hafw/hafw/licensing/devkey"
)

// testPassword passes the password rule.
const testPassword = "Setup-pass-1"

// skipWizard sets the password a new appliance must have, answers every
// other wizard section with S and confirms.
const skipWizard = testPassword + "\n" + testPassword + "\ns\ns\ns\ns\ns\ns\ns\ns\nyes\n"

const testUDI = "AIR-MSE-VA-K9:V01:VA1234"

// licenseFixture writes the vendor key and returns the setup arguments,
// the license directory, and a valid, a foreign and a forged license.
func licenseFixture(t *testing.T) (args []string, dir string, good, foreign, forged []byte) {
	t.Helper()
	tmp := t.TempDir()
	pub := filepath.Join(tmp, "vendor.pub")
	if err := os.WriteFile(pub, devkey.PublicKeyFile(), 0o644); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(tmp, "licenses")
	args = []string{"-config", filepath.Join(tmp, "appliance.json"), "-control", filepath.Join(tmp, "none.sock"),
		"-licenses", dir, "-vendor-pub", pub, "-udi", testUDI, "-profile", "VA-Standard"}
	var err error
	if good, err = devkey.Activation(licensing.UDI{PID: "AIR-MSE-VA-K9", VID: "V01", SN: "VA1234"}); err != nil {
		t.Fatal(err)
	}
	if foreign, err = devkey.Activation(licensing.UDI{PID: "AIR-MSE-VA-K9", VID: "V01", SN: "OTHER99"}); err != nil {
		t.Fatal(err)
	}
	forged = bytes.Replace(good, []byte("expires: never"), []byte("expires: 2099-01-01"), 1)
	if bytes.Equal(forged, good) {
		t.Fatalf("cannot forge: %s", good)
	}
	return args, dir, good, foreign, forged
}

func licFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.lic"))
	return m
}

// TestLicenseStepSources installs through each source, after refusals that
// must leave the license directory empty.
func TestLicenseStepSources(t *testing.T) {
	args, dir, good, foreign, forged := licenseFixture(t)
	sum := sha256.Sum256(good)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(good)
	}))
	defer srv.Close()
	foreignFile := filepath.Join(t.TempDir(), "foreign.lic")
	os.WriteFile(foreignFile, foreign, 0o644)
	goodFile := filepath.Join(t.TempDir(), "good.lic")
	os.WriteFile(goodFile, good, 0o644)

	for _, c := range []struct {
		name, input string
		want        []string
		installed   bool
	}{
		{"skip", "\n", []string{"UDI of this appliance: " + testUDI, "License: not activated", "No license installed"}, false},
		{"file refusals then good file", "x\nf\n/nonexistent.lic\nf\n" + foreignFile + "\nf\n" + goodFile + "\n",
			[]string{"Invalid answer: choose F, P, U or S.", "License not installed: reading /nonexistent.lic", "license is for another machine: issued for AIR-MSE-VA-K9:V01:OTHER99",
				"Installed license", "License: activated."}, true},
		{"paste forged then good", "p\n" + string(forged) + "\np\n" + string(good) + "\n",
			[]string{"signature does not verify with the vendor key", "License: activated."}, true},
		{"url bad checksum then good", "u\n" + srv.URL + "/a.lic\n" + strings.Repeat("0", 64) + "\nu\n" + srv.URL + "/a.lic\n" + hex.EncodeToString(sum[:]) + "\n",
			[]string{"does not have SHA-256 " + strings.Repeat("0", 64), "Nothing was changed.", "License: activated."}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.RemoveAll(dir)
			os.Remove(args[1]) // a new appliance each time: skipWizard sets its password
			var out bytes.Buffer
			if err := run(args, strings.NewReader(skipWizard+c.input), &out); err != nil {
				t.Fatalf("setup: %v\n%s", err, out.String())
			}
			rest := out.String()
			for _, w := range c.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("missing %q (in order) in:\n%s", w, out.String())
				}
				rest = rest[i+len(w):]
			}
			if files := licFiles(t, dir); (len(files) == 1) != c.installed {
				t.Fatalf("license files %v, want installed=%v", files, c.installed)
			}
		})
	}

	// Already activated: the step shows the UDI and asks nothing.
	os.Remove(args[1])
	var out bytes.Buffer
	if err := run(args, strings.NewReader(skipWizard), &out); err != nil || !strings.Contains(out.String(), "License: activated.") ||
		strings.Contains(out.String(), "Install an activation license now?") {
		t.Fatalf("activated appliance: %v\n%s", err, out.String())
	}
}

// TestLicenseStepOnPseudoTerminal pastes a license at a real terminal.
func TestLicenseStepOnPseudoTerminal(t *testing.T) {
	args, dir, good, foreign, _ := licenseFixture(t)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "HAFW_TEST_SETUP=1")
	term := ptytest.Start(t, cmd)
	term.Answer("Enter the administrator password: ", testPassword)
	term.Answer("Enter the administrator password again: ", testPassword)
	for range 8 {
		term.Answer("(Y)es/(S)kip/(U)se default [Yes]: ", "s")
	}
	term.Answer("Is the above information correct (yes, no, or ^): ", "yes")
	term.Expect("UDI of this appliance: " + testUDI)
	term.Answer("Install an activation license now? (F)ile/(P)aste/(U)RL/(S)kip [Skip]: ", "p")
	term.Expect("Paste the license text, then an empty line:")
	term.Type(strings.ReplaceAll(string(foreign), "\n", "\r"))
	term.Expect("license is for another machine: issued for AIR-MSE-VA-K9:V01:OTHER99")
	if files := licFiles(t, dir); len(files) != 0 {
		t.Fatalf("refused license left %v", files)
	}
	term.Answer("Install an activation license now? (F)ile/(P)aste/(U)RL/(S)kip [Skip]: ", "p")
	term.Type(strings.ReplaceAll(string(good), "\n", "\r"))
	term.Expect("License: activated.")
	term.Wait()
	if files := licFiles(t, dir); len(files) != 1 {
		t.Fatalf("license files %v", files)
	}
}
