package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	vaUDI    = "AIR-MSE-VA-K9:V01:mse1_d5972642-5696-11e1-bd0c-0050568901d6"
	otherVA  = "AIR-MSE-VA-K9:V01:mse2_666f2046-5699-11e1-b1b1-0050568901d9"
	devKey   = "../../licensing/devkey/dev.key"
	devPub   = "../../licensing/devkey/dev.pub"
	fileMode = 0o644
)

// issueTo runs `hafw license issue` into dir/name and fails the test on error.
func issueTo(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	code, _, errOut := hafw(t, append([]string{"license", "issue", "--out", path}, args...)...)
	if code != 0 {
		t.Fatalf("issue %v: exit %d: %s", args, code, errOut)
	}
	return path
}

func TestLicenseCLI(t *testing.T) {
	dir := t.TempDir()
	key, pub := filepath.Join(dir, "vendor.key"), filepath.Join(dir, "vendor.pub")
	if code, out, errOut := hafw(t, "license", "keygen", "--private", key, "--public", pub); code != 0 || !strings.Contains(out, "wrote") {
		t.Fatalf("keygen: exit %d, %s%s", code, out, errOut)
	}
	if code, _, errOut := hafw(t, "license", "keygen", "--private", key, "--public", pub); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("keygen over an existing key: exit %d, %s", code, errOut)
	}

	act := issueTo(t, dir, "act.lic", "--key", key, "--udi", vaUDI, "--feature", "activation", "--count", "1")
	cas := issueTo(t, dir, "cas.lic", "--key", key, "--udi", vaUDI, "--feature", "cas", "--count", "3000", "--expires", "2099-12-31")
	wips := issueTo(t, dir, "wips.lic", "--key", key, "--udi", vaUDI, "--feature", "wips-monitor", "--count", "10")

	code, out, errOut := hafw(t, "license", "verify", "--pub", pub, "--udi", vaUDI, act, cas, wips)
	if code != 0 || errOut != "" || strings.Count(out, "ok: ") != 3 || !strings.Contains(out, " cas 3000 valid through 2099-12-31\n") {
		t.Fatalf("verify good licenses: exit %d\n%s%s", code, out, errOut)
	}

	// Bad input, each refused with a one-line reason naming the file.
	data, _ := os.ReadFile(cas)
	tampered := filepath.Join(dir, "tampered.lic")
	os.WriteFile(tampered, []byte(strings.Replace(string(data), "count: 3000", "count: 9000", 1)), fileMode)
	malformed := filepath.Join(dir, "malformed.lic")
	os.WriteFile(malformed, []byte("feature: cas\n"), fileMode)
	unknown := filepath.Join(dir, "unknown.lic")
	os.WriteFile(unknown, []byte(strings.Replace(string(data), "feature: cas", "feature: gold", 1)), fileMode)
	bad := map[string]string{
		tampered: "signature does not verify",
		issueTo(t, dir, "wrongkey.lic", "--key", devKey, "--udi", vaUDI, "--feature", "cas", "--count", "1"): "signature does not verify",
		issueTo(t, dir, "other.lic", "--key", key, "--udi", otherVA, "--feature", "cas", "--count", "1"):     "license is for another machine: issued for " + otherVA,
		issueTo(t, dir, "old.lic", "--key", key, "--udi", vaUDI, "--feature", "msap", "--count", "5",
			"--issued", "2020-01-01", "--expires", "2020-12-31"): "license has expired (valid through 2020-12-31)",
		malformed:                         "malformed license",
		unknown:                           `unknown feature "gold"`,
		filepath.Join(dir, "missing.lic"): "no such file",
	}
	for file, reason := range bad {
		code, out, errOut := hafw(t, "license", "verify", "--pub", pub, "--udi", vaUDI, act, file)
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		if code != 1 || !strings.Contains(out, "ok: ") || len(lines) != 2 ||
			!strings.HasPrefix(lines[0], file+": ") || !strings.Contains(lines[0], reason) ||
			lines[1] != "hafw license: 1 of 2 license file(s) refused" {
			t.Errorf("verify %s: exit %d\nstdout %q\nstderr %q\nwant reason %q", filepath.Base(file), code, out, errOut, reason)
		}
	}

	// Summary like the seed's License Summary; CAS capped at the platform limit.
	code, out, errOut = hafw(t, "license", "summary", "--pub", pub, "--udi", vaUDI, "--profile", "va-low", act, cas, wips)
	if code != 0 || errOut != "" {
		t.Fatalf("summary: exit %d, %s", code, errOut)
	}
	for _, want := range []string{
		"UDI: " + vaUDI + "\n", "Profile: VA-Low\n", "Status: Activated\n",
		"SERVICE  PLATFORM LIMIT  TYPE                          INSTALLED LIMIT  USABLE\n",
		"CAS      2000            CAS Elements                  3000             2000\n",
		"WIPS     2000            wIPS Monitor Mode APs         10               10\n",
		"                         wIPS Local Mode APs           0",
		"MSAP     2000            Service Advertisement Clicks  0                0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = hafw(t, "license", "summary", "--pub", pub, "--udi", vaUDI, "--profile", "VA-Standard", cas, tampered)
	if code != 1 || !strings.Contains(out, "Status: NOT activated") || !strings.Contains(errOut, "tampered.lic: ") {
		t.Errorf("summary without activation, one refused: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := hafw(t, "license", "summary", "--pub", pub, "--udi", vaUDI, act); code != 2 || !strings.Contains(errOut, "give --profile") {
		t.Errorf("summary of a VA without --profile: exit %d, %s", code, errOut)
	}
	if code, _, errOut := hafw(t, "license", "summary", "--pub", pub, "--udi", vaUDI, "--profile", "3355", act); code != 2 || !strings.Contains(errOut, "AIR-MSE-3355-K9") {
		t.Errorf("summary with a profile not matching the UDI: exit %d, %s", code, errOut)
	}
}

func TestLicenseUsage(t *testing.T) {
	for _, args := range [][]string{
		{"license"},
		{"license", "frobnicate"},
		{"license", "issue", "--key", devKey, "--udi", vaUDI, "--feature", "gold", "--count", "1"},
		{"license", "issue", "--key", devKey, "--udi", "not-a-udi", "--feature", "cas", "--count", "1"},
		{"license", "issue", "--key", devKey, "--udi", vaUDI, "--feature", "cas", "--count", "0"},
		{"license", "issue", "--key", devKey, "--udi", vaUDI, "--feature", "activation", "--count", "2"},
		{"license", "issue", "--key", devKey, "--udi", vaUDI, "--feature", "cas", "--count", "1", "--expires", "31.12.2030"},
		{"license", "issue", "--udi", vaUDI, "--feature", "cas", "--count", "1"},
		{"license", "verify", "--pub", devPub, "--udi", vaUDI},
		{"license", "verify", "--udi", vaUDI, "x.lic"},
		{"license", "keygen", "--private", "only.key"},
	} {
		if code, _, errOut := hafw(t, args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args, code, errOut)
		}
	}
	// A private key where a public one belongs is a clear error, not a crash.
	if code, _, errOut := hafw(t, "license", "verify", "--pub", devKey, "--udi", vaUDI, "x.lic"); code != 1 || !strings.Contains(errOut, "private-key") {
		t.Errorf("private key as --pub: exit %d, %q", code, errOut)
	}
}

// TestLicenseDevKey: licenses issued with the checked-in development key
// verify with its public key, as the QEMU labs rely on.
func TestLicenseDevKey(t *testing.T) {
	dir := t.TempDir()
	act := issueTo(t, dir, "act.lic", "--key", devKey, "--udi", vaUDI, "--feature", "activation", "--count", "1")
	if code, out, errOut := hafw(t, "license", "verify", "--pub", devPub, "--udi", vaUDI, act); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
}

// TestLicenseStoreCLI: install refuses a foreign license without touching the
// directory, list shows every file with its status, remove deletes by ID.
func TestLicenseStoreCLI(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "licenses")
	act := issueTo(t, dir, "act.lic", "--key", devKey, "--udi", vaUDI, "--feature", "activation", "--count", "1", "--id", "LIC-ACT")
	foreign := issueTo(t, dir, "foreign.lic", "--key", devKey, "--udi", otherVA, "--feature", "cas", "--count", "5")
	common := []string{"--dir", store, "--pub", devPub, "--udi", vaUDI}

	code, out, errOut := hafw(t, append(append([]string{"license", "install"}, common...), act, foreign)...)
	if code != 1 || !strings.Contains(out, "installed "+act+": LIC-ACT activation 1") ||
		!strings.Contains(errOut, foreign+": refusing license: license ") || !strings.Contains(errOut, "another machine") {
		t.Fatalf("install: exit %d\n%s%s", code, out, errOut)
	}
	entries, _ := os.ReadDir(store)
	if len(entries) != 1 || entries[0].Name() != "LIC-ACT.lic" {
		t.Fatalf("store holds %v", entries)
	}
	// A file copied in by hand is listed with its reason.
	data, _ := os.ReadFile(foreign)
	os.WriteFile(filepath.Join(store, "copied.lic"), data, fileMode)
	code, out, _ = hafw(t, append([]string{"license", "list"}, common...)...)
	if code != 0 || !strings.Contains(out, "LIC-ACT") || !strings.Contains(out, "valid") || !strings.Contains(out, "copied.lic: license ") {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	if code, out, errOut := hafw(t, "license", "remove", "--dir", store, "LIC-ACT"); code != 0 || out != "removed LIC-ACT\n" {
		t.Fatalf("remove: exit %d %s%s", code, out, errOut)
	}
	if code, _, errOut := hafw(t, "license", "remove", "--dir", store, "LIC-ACT"); code != 1 || !strings.Contains(errOut, "no such license installed") {
		t.Fatalf("second remove: exit %d %s", code, errOut)
	}
	if code, _, _ := hafw(t, "license", "install", "--dir", store, "--pub", devPub, "--udi", "not-a-udi", act); code != 2 {
		t.Fatalf("install with a malformed --udi: exit %d", code)
	}
}
