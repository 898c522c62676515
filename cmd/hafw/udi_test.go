package main

import (
	"strings"
	"testing"

	"github.com/hafw/hafw/internal/testenv"
)

const boardFixtures = "../../board/testdata/"

func TestUDIFixtures(t *testing.T) {
	code, out, errOut := hafw(t, "udi", "--root", boardFixtures+"vmware-va-low", "--hostname", "mse2")
	if code != 0 || errOut != "" {
		t.Fatalf("VMware VA: exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{
		"UDI:      AIR-MSE-VA-K9:V01:mse2_666f2046-5699-11e1-b1b1-0050568901d9\n",
		"Profile:  VA-Low (virtual, detected from the hardware)\n",
		"Platform: a VMware virtual machine, 2 vCPU, 7957 MB\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("VMware VA output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = hafw(t, "udi", "--root", boardFixtures+"mse-3355")
	if code != 0 || !strings.Contains(out, "AIR-MSE-3355-K9:V01:KQ45xx") {
		t.Errorf("3355: exit %d:\n%s", code, out)
	}
	code, out, errOut = hafw(t, "udi", "--root", boardFixtures+"kvm-qemu", "--hostname", "lab1")
	if code != 1 || out != "" || errOut != "hafw udi: identify the appliance: not an appliance: a KVM/QEMU virtual machine (DMI product \"Standard PC (i440FX + PIIX, 1996)\") is neither a known appliance model nor a VMware virtual appliance; set a profile override (hafw.profile=MODEL) to run as one\n" {
		t.Errorf("KVM: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = hafw(t, "udi", "--root", boardFixtures+"kvm-qemu", "--hostname", "lab1", "--profile", "VA-Standard")
	if code != 0 || !strings.Contains(out, "AIR-MSE-VA-K9:V01:lab1_00000000-0000-0000-0000-000000000000") || !strings.Contains(out, "override") {
		t.Errorf("KVM with override: exit %d:\n%s", code, out)
	}
	if code, _, errOut := hafw(t, "udi", "--root", boardFixtures+"kvm-qemu", "--profile", "3320"); code != 1 || !strings.Contains(errOut, "unknown appliance model") {
		t.Errorf("unknown override: exit %d, %q", code, errOut)
	}
	if code, _, _ := hafw(t, "udi", "extra"); code != 2 {
		t.Errorf("extra argument: exit %d", code)
	}
}

// TestUDIThisMachine: on the build/CI machine `hafw udi` must answer in one
// line (exit 0 on an appliance or VA, 1 otherwise), never crash.
func TestUDIThisMachine(t *testing.T) {
	testenv.RequireRoot(t) // DMI serial and UUID are root-only
	code, out, errOut := hafw(t, "udi")
	switch code {
	case 0:
		if !strings.HasPrefix(out, "UDI:") {
			t.Fatalf("exit 0 without a UDI: %q", out)
		}
	case 1:
		if strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "hafw udi: ") {
			t.Fatalf("exit 1 without a one-line reason: %q", errOut)
		}
	default:
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	t.Logf("exit %d: %s%s", code, out, errOut)
}
