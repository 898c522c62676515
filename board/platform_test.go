package board

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hafw/hafw/hwprofiles"
	"github.com/hafw/hafw/internal/testenv"
)

func fixture(name string) System { return System{Root: filepath.Join("testdata", name)} }

func TestDetectFixtures(t *testing.T) {
	cases := []struct {
		fixture    string
		hostname   string
		override   string
		hypervisor Hypervisor
		profile    string
		udi        string
		notAppl    string // non-empty: want *NotApplianceError mentioning this
	}{
		// The seed's secondary VA: AIR-MSE-VA-K9:V01:mse2_666f2046-5699-11e1-b1b1-0050568901d9.
		{"vmware-va-low", "mse2", "", VMware, "VA-Low", "AIR-MSE-VA-K9:V01:mse2_666f2046-5699-11e1-b1b1-0050568901d9", ""},
		{"vmware-va-standard", "mse1", "", VMware, "VA-Standard", "AIR-MSE-VA-K9:V01:mse1_d5972642-5696-11e1-bd0c-0050568901d6", ""},
		{"vmware-va-standard", "mse1", "va-low", VMware, "VA-Low", "AIR-MSE-VA-K9:V01:mse1_d5972642-5696-11e1-bd0c-0050568901d6", ""},
		{"vmware-too-small", "mse3", "", VMware, "", "", "below the smallest virtual appliance"},
		{"mse-3355", "mse3355-2", "", BareMetal, "3355", "AIR-MSE-3355-K9:V01:KQ45xx", ""},
		// A placeholder serial falls back to the hostname_uuid form.
		{"mse-3310-no-serial", "mse3310", "", BareMetal, "3310", "AIR-MSE-3310-K9:V01:mse3310_4c4c4544-0000-1010-8000-b7c04f4b3331", ""},
		{"kvm-qemu", "lab1", "", KVM, "", "", "a KVM/QEMU virtual machine (DMI product \"Standard PC (i440FX + PIIX, 1996)\")"},
		{"kvm-qemu", "lab1", "mse-3355", KVM, "3355", "AIR-MSE-3355-K9:V01:lab1_00000000-0000-0000-0000-000000000000", ""},
		{"kvm-qemu", "lab2", "VA-Standard", KVM, "VA-Standard", "AIR-MSE-VA-K9:V01:lab2_00000000-0000-0000-0000-000000000000", ""},
		{"vm-without-dmi", "vm", "", OtherVM, "", "", "a virtual machine under an unidentified hypervisor (no DMI product name)"},
		{"vm-without-dmi", "vm", "va-high", OtherVM, "VA-High", "AIR-MSE-VA-K9:V01:vm", ""},
		{"bare-metal-pc", "pc", "", BareMetal, "", "", "a physical machine (DMI product \"OptiPlex 7090\")"},
	}
	for _, c := range cases {
		name := c.fixture + "/" + c.override
		pl, err := Detect(fixture(c.fixture), c.hostname, c.override)
		if c.notAppl != "" {
			var na *NotApplianceError
			if !errors.As(err, &na) || !errors.Is(err, ErrNotAppliance) {
				t.Errorf("%s: got %v, want *NotApplianceError", name, err)
				continue
			}
			if !strings.Contains(err.Error(), c.notAppl) || na.Hypervisor != c.hypervisor {
				t.Errorf("%s: %q (hypervisor %s), want it to mention %q and %s", name, err, na.Hypervisor, c.notAppl, c.hypervisor)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if pl.Hypervisor != c.hypervisor || pl.Profile.Model != c.profile || pl.UDI.String() != c.udi {
			t.Errorf("%s: got %s %s %s, want %s %s %s", name, pl.Hypervisor, pl.Profile.Model, pl.UDI, c.hypervisor, c.profile, c.udi)
		}
		if pl.Overridden != (c.override != "") {
			t.Errorf("%s: Overridden = %v", name, pl.Overridden)
		}
	}
}

func TestDetectErrors(t *testing.T) {
	if _, err := Detect(fixture("kvm-qemu"), "lab1", "3320"); !errors.Is(err, hwprofiles.ErrUnknownModel) {
		t.Errorf("unknown override: %v", err)
	}
	if _, err := Detect(fixture("vmware-va-low"), "", ""); err == nil || !strings.Contains(err.Error(), "hostname is empty") {
		t.Errorf("empty hostname: %v", err)
	}
	if _, err := Detect(fixture("vmware-va-low"), "bad host", ""); err == nil {
		t.Error("hostname with a space made a UDI")
	}
	if _, err := Detect(System{Root: t.TempDir()}, "x", ""); err == nil || !strings.Contains(err.Error(), "MemTotal") {
		t.Errorf("empty root: %v", err)
	}
}

func TestParseCPUInfo(t *testing.T) {
	data, err := os.ReadFile("testdata/vmware-va-standard/proc/cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	if n, hv := ParseCPUInfo(string(data)); n != 8 || !hv {
		t.Errorf("got %d CPUs, hypervisor=%v; want 8, true", n, hv)
	}
	if n, hv := ParseCPUInfo("processor : 0\nflags : fpu hypervisorx\n"); n != 1 || hv {
		t.Errorf("got %d, %v", n, hv)
	}
}

func TestParseMemInfo(t *testing.T) {
	if mb, err := ParseMemInfo("MemTotal:       16303000 kB\n"); err != nil || mb != 15920 {
		t.Errorf("got %d, %v", mb, err)
	}
	for _, bad := range []string{"", "MemTotal: x kB\n", "MemTotal: -5 kB\n", "MemFree: 5 kB\n"} {
		if _, err := ParseMemInfo(bad); err == nil {
			t.Errorf("ParseMemInfo(%q) succeeded", bad)
		}
	}
}

// TestDetectThisMachine runs the real readers against this machine: it must
// give either a platform or a clear *NotApplianceError, never another error.
func TestDetectThisMachine(t *testing.T) {
	testenv.RequireRoot(t) // DMI serial and UUID are readable by root only
	f, err := ReadFacts(System{Root: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if f.CPUs < 1 || f.MemoryMB < 64 {
		t.Fatalf("implausible facts: %+v", f)
	}
	pl, err := Classify(f, "hafw-test", "")
	if err != nil && !errors.Is(err, ErrNotAppliance) {
		t.Fatalf("Classify: %v", err)
	}
	t.Logf("this machine: %+v, %v", pl, err)
}
