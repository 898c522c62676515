package licensing

import (
	"testing"

	"github.com/hafw/hafw/hwprofiles"
)

func profile(t *testing.T, name string) hwprofiles.Profile {
	t.Helper()
	p, err := hwprofiles.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSummarySeed reproduces the seed's License Summary of a VA: platform
// limits CAS 2000, wIPS 2000, MSAP 2000; installed CAS 100, wIPS 10 + 10,
// MSAP 1000; activated.
func TestSummarySeed(t *testing.T) {
	lic := []License{
		{Feature: Activation, Count: 1},
		{Feature: CAS, Count: 100},
		{Feature: WIPSMonitor, Count: 10},
		{Feature: WIPSLocal, Count: 10},
		{Feature: MSAP, Count: 1000},
	}
	s := Summarize(profile(t, "VA-Low"), lic)
	if !s.Activated() {
		t.Fatal("VA with an activation license is not activated")
	}
	want := map[hwprofiles.Service][3]int{ // platform, installed, effective
		hwprofiles.CAS:  {2000, 100, 100},
		hwprofiles.WIPS: {2000, 20, 20},
		hwprofiles.MSAP: {2000, 1000, 1000},
	}
	if len(s.Services) != 3 {
		t.Fatalf("services: %+v", s.Services)
	}
	for _, ss := range s.Services {
		w := want[ss.Service]
		if [3]int{ss.PlatformLimit, ss.Installed, ss.Effective} != w {
			t.Errorf("%s: got %d/%d/%d, want %v", ss.Service, ss.PlatformLimit, ss.Installed, ss.Effective, w)
		}
	}
	wips := s.Services[1]
	if len(wips.Types) != 2 || wips.Types[0].Feature != WIPSMonitor || wips.Types[1].Count != 10 {
		t.Errorf("wIPS types: %+v", wips.Types)
	}
}

func TestSummaryCapAndActivation(t *testing.T) {
	lic := []License{{Feature: CAS, Count: 1500}, {Feature: CAS, Count: 1500}, {Feature: WIPSLocal, Count: 1}}
	va := Summarize(profile(t, "VA-Low"), lic)
	if va.Activated() {
		t.Error("VA without activation license is activated")
	}
	if va.Limit(hwprofiles.CAS) != 2000 || va.Services[0].Installed != 3000 {
		t.Errorf("CAS not capped at the platform limit: %+v", va.Services[0])
	}
	if va.Limit(hwprofiles.MSAP) != 0 || va.Limit("nothing") != 0 {
		t.Error("unlicensed service has a limit")
	}
	phys := Summarize(profile(t, "3355"), lic)
	if !phys.Activated() {
		t.Error("physical appliance needs no activation license")
	}
	if phys.Limit(hwprofiles.CAS) != 3000 {
		t.Errorf("3355 CAS limit %d", phys.Limit(hwprofiles.CAS))
	}
	if Summarize(profile(t, "VA-High"), nil).Activated() {
		t.Error("VA with no licenses is activated")
	}
}
