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
	"time"

	"github.com/creack/pty"

	"github.com/hafw/hafw/licensing"
	"github.com/hafw/hafw/licensing/devkey"
)

// skipWizard answers every wizard section with S and confirms.
const skipWizard = "s\ns\ns\ns\ns\ns\ns\ns\nyes\n"

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
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	term := &terminal{t: t, f: f}
	go term.read()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		f.Close()
	})
	for range 8 {
		term.answer("(Y)es/(S)kip/(U)se default [Yes]: ", "s")
	}
	term.answer("Is the above information correct (yes, no, or ^): ", "yes")
	term.expect("UDI of this appliance: " + testUDI)
	term.answer("Install an activation license now? (F)ile/(P)aste/(U)RL/(S)kip [Skip]: ", "p")
	term.expect("Paste the license text, then an empty line:")
	f.Write(bytes.ReplaceAll(foreign, []byte("\n"), []byte("\r")))
	f.Write([]byte("\r"))
	term.expect("license is for another machine: issued for AIR-MSE-VA-K9:V01:OTHER99")
	if files := licFiles(t, dir); len(files) != 0 {
		t.Fatalf("refused license left %v", files)
	}
	term.answer("Install an activation license now? (F)ile/(P)aste/(U)RL/(S)kip [Skip]: ", "p")
	f.Write(bytes.ReplaceAll(good, []byte("\n"), []byte("\r")))
	f.Write([]byte("\r"))
	term.expect("License: activated.")
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("setup exited: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("setup did not exit")
	}
	if files := licFiles(t, dir); len(files) != 1 {
		t.Fatalf("license files %v", files)
	}
}
