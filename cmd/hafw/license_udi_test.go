package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hafw/hafw/config"
)

// TestLicenseInstallDetectsUDI: on the appliance `license install` and
// `license list` need no --udi. The UDI is formed as the init agent forms
// it: the configuration's hostname, the profile override from the kernel
// command line before the configuration before the image's profile file.
// A machine that is no appliance gets a one-line reason and nothing is
// stored.
func TestLicenseInstallDetectsUDI(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "appliance.json")
	saveHostname := func(name, profile string) {
		t.Helper()
		c := config.Default()
		c.Hostname, c.Profile = name, profile
		if err := config.Save(cfgPath, c); err != nil {
			t.Fatal(err)
		}
	}
	noProfile := filepath.Join(dir, "absent-profile")
	install := func(root, profileFile, store, lic string) (int, string, string) {
		return hafw(t, "license", "install", "--dir", store, "--pub", devPub, "--root", root,
			"--config", cfgPath, "--profile-file", profileFile, lic)
	}

	// A VMware VA, detected from the hardware; hostname from the config.
	saveHostname("mse2", "")
	store := filepath.Join(dir, "va")
	lic := issueTo(t, dir, "va.lic", "--key", devKey, "--udi", otherVA, "--feature", "activation", "--count", "1", "--id", "LIC-VA")
	if code, out, errOut := install(boardFixtures+"vmware-va-low", noProfile, store, lic); code != 0 || !strings.Contains(out, "installed "+lic+": LIC-VA") {
		t.Fatalf("VMware VA: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := hafw(t, "license", "list", "--dir", store, "--pub", devPub, "--root", boardFixtures+"vmware-va-low",
		"--config", cfgPath, "--profile-file", noProfile)
	if code != 0 || !strings.Contains(out, "LIC-VA") || !strings.Contains(out, "valid") {
		t.Fatalf("list: exit %d\n%s%s", code, out, errOut)
	}
	// The same file on another hostname is another machine's license.
	saveHostname("mse1", "")
	if code, _, errOut := install(boardFixtures+"vmware-va-low", noProfile, filepath.Join(dir, "other"), lic); code != 1 || !strings.Contains(errOut, "another machine") {
		t.Fatalf("foreign hostname: exit %d %s", code, errOut)
	}

	// QEMU is no appliance: a clear reason, nothing stored.
	saveHostname("lab1", "")
	kvmLic := issueTo(t, dir, "kvm.lic", "--key", devKey, "--udi", "AIR-MSE-VA-K9:V01:lab1_00000000-0000-0000-0000-000000000000",
		"--feature", "activation", "--count", "1", "--id", "LIC-KVM")
	kvmStore := filepath.Join(dir, "kvm")
	if code, out, errOut := install(boardFixtures+"kvm-qemu", noProfile, kvmStore, kvmLic); code != 1 || out != "" ||
		!strings.HasPrefix(errOut, "hafw license: no --udi given and detecting the UDI: ") || !strings.Contains(errOut, "not an appliance") {
		t.Fatalf("KVM without a profile: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(kvmStore); !os.IsNotExist(err) {
		t.Fatalf("refused install touched the store: %v", err)
	}
	// The image's profile file makes it a VA-Standard lab appliance.
	profileFile := filepath.Join(dir, "profile")
	if err := os.WriteFile(profileFile, []byte("VA-Standard\n"), fileMode); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := install(boardFixtures+"kvm-qemu", profileFile, kvmStore, kvmLic); code != 0 || !strings.Contains(out, "LIC-KVM") {
		t.Fatalf("KVM with the image's profile: exit %d\n%s%s", code, out, errOut)
	}
	// The configuration's profile comes before the file's: a 3355 is
	// another product ID, so the VA license is refused.
	saveHostname("lab1", "3355")
	if code, _, errOut := install(boardFixtures+"kvm-qemu", profileFile, filepath.Join(dir, "k3355"), kvmLic); code != 1 || !strings.Contains(errOut, "another machine") {
		t.Fatalf("config profile 3355: exit %d %s", code, errOut)
	}
	// The kernel command line comes before both.
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(boardFixtures+"kvm-qemu")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "proc", "cmdline"), []byte("console=ttyS0 hafw.profile=VA-Standard quiet\n"), fileMode); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := install(root, noProfile, filepath.Join(dir, "cmdline"), kvmLic); code != 0 || !strings.Contains(out, "LIC-KVM") {
		t.Fatalf("cmdline override: exit %d\n%s%s", code, out, errOut)
	}
}
