package image

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/internal/testenv"
	"github.com/hafw/hafw/internal/vmtest"
	"github.com/hafw/hafw/licensing"
	"github.com/hafw/hafw/licensing/devkey"
)

// TestBootVAActivationThroughWizard boots an unconfigured VA without a
// license: the ready line says license=not-activated and the console shows
// the UDI. The test then answers the setup wizard over the serial console,
// pastes an activation license issued (development key) for the UDI the
// console showed, and sees a new ready line with license=activated — no
// reboot (QEMU runs with -no-reboot, so a reboot would end the test).
func TestBootVAActivationThroughWizard(t *testing.T) {
	testenv.Short(t, "QEMU boot")
	vmtest.Require(t, true)
	disk := blankVABuild(t)
	t.Parallel()
	vm := vmtest.Start(t, vmtest.Options{EFI: true,
		Disks: []vmtest.Disk{{Path: disk}},
		NICs:  []vmtest.NIC{{Model: "e1000"}, {Model: "e1000"}},
	})
	udiLine := vm.WaitFor(regexp.MustCompile(`hafw-license: NOT ACTIVATED\. UDI of this appliance: (\S+)\r?\n`), bootTimeout)
	// A whole line: the console arrives in chunks.
	first := vm.WaitFor(regexp.MustCompile(readyRE.String()+`\r?\n`), bootTimeout)
	if first[6] != "not-activated" || first[3] != "none" {
		t.Fatalf("first ready line %q, want role=none license=not-activated", first[0])
	}
	udi, err := licensing.ParseUDI(udiLine[1])
	if err != nil {
		t.Fatalf("console UDI: %v", err)
	}
	lic, err := devkey.Activation(udi)
	if err != nil {
		t.Fatal(err)
	}

	// A new appliance gets its administrator password first.
	for _, prompt := range []string{`Enter the administrator password: `, `Enter the administrator password again: `} {
		vm.WaitFor(regexp.MustCompile(prompt), bootTimeout)
		if err := vm.Type("Wizard-pass-1\n"); err != nil {
			t.Fatal(err)
		}
	}
	vm.WaitFor(regexp.MustCompile(`Configure hostname\? \(Y\)es/\(S\)kip/\(U\)se default \[Yes\]: `), bootTimeout)
	if err := vm.Type(strings.Repeat("s\n", 8) + "yes\n"); err != nil {
		t.Fatal(err)
	}
	vm.WaitFor(regexp.MustCompile(`UDI of this appliance: `+regexp.QuoteMeta(udi.String())+`\s`), 2*time.Minute)
	vm.WaitFor(regexp.MustCompile(`Install an activation license now\? \(F\)ile/\(P\)aste/\(U\)RL/\(S\)kip \[Skip\]: `), 2*time.Minute)
	if err := vm.Type("p\n" + string(lic) + "\n"); err != nil {
		t.Fatal(err)
	}
	vm.WaitFor(regexp.MustCompile(`License: activated\.`), 2*time.Minute)
	start := time.Now()
	got := vm.WaitFor(regexp.MustCompile(`hafw-ready: host=\S+ profile=VA-Standard role=none eth0=\S+ eth1=\S+ license=activated\r?\n`), bootTimeout)
	t.Logf("activated without a reboot %s after the license: %s", time.Since(start).Round(100*time.Millisecond), got[0])
}
