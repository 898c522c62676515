package hwprofiles

import (
	"strings"
	"testing"
)

// TestTable checks the embedded table for the mistakes a hand-edited JSON
// file invites: duplicates, missing numbers, a physical model the board
// package could not recognise, a service without a platform limit.
func TestTable(t *testing.T) {
	all := All()
	if got := strings.Join(Models(), " "); got != "3310 3350 3355 3365 VA-Low VA-Standard VA-High" {
		t.Fatalf("models %q", got)
	}
	names := map[string]string{}
	dmi := map[string]string{}
	for _, p := range all {
		for _, n := range append([]string{strings.ToLower(p.Model)}, p.Aliases...) {
			if n != strings.ToLower(n) {
				t.Errorf("%s: alias %q must be lower case (Lookup lower-cases its input)", p.Model, n)
			}
			if other, dup := names[n]; dup && other != p.Model {
				t.Errorf("name %q used by %s and %s", n, other, p.Model)
			}
			names[n] = p.Model
		}
		if p.VCPU < 1 || p.MemoryMB < 1024 || p.DiskGB < 1 {
			t.Errorf("%s: sizes %d vCPU, %d MB, %d GB", p.Model, p.VCPU, p.MemoryMB, p.DiskGB)
		}
		if len(p.NICs) < 2 || p.NICs[0].Name != "eth0" || p.NICs[1].Name != "eth1" {
			t.Errorf("%s: NICs %+v, want eth0 and eth1 (health monitor and direct connect)", p.Model, p.NICs)
		}
		if len(p.Drivers()) == 0 {
			t.Errorf("%s: no drivers", p.Model)
		}
		for _, svc := range []Service{CAS, WIPS, MSAP} {
			if p.PlatformLimit(svc) < 1 {
				t.Errorf("%s: no platform limit for %s", p.Model, svc)
			}
		}
		for _, k := range []string{"model", "product_id", "sizes", "drivers", "limits"} {
			if p.Sources[k] == "" {
				t.Errorf("%s: no source noted for %s", p.Model, k)
			}
		}
		switch p.Class {
		case Physical:
			if p.ImageFormat != RawDisk || p.ProductID != "AIR-MSE-"+p.Model+"-K9" || len(p.DMIProducts) == 0 || p.Sources["dmi_products"] == "" {
				t.Errorf("%s: physical profile %+v", p.Model, p)
			}
			for _, d := range p.DMIProducts {
				if other, dup := dmi[d]; dup {
					t.Errorf("DMI product %q claimed by %s and %s", d, other, p.Model)
				}
				dmi[d] = p.Model
			}
		case Virtual:
			if p.ImageFormat != OVA || p.ProductID != "AIR-MSE-VA-K9" || len(p.DMIProducts) != 0 {
				t.Errorf("%s: virtual profile %+v", p.Model, p)
			}
		default:
			t.Errorf("%s: class %q", p.Model, p.Class)
		}
	}
}

// TestSeedNumbers pins the numbers that come from the seed, so that a
// "refinement" of the table cannot drift from the source.
func TestSeedNumbers(t *testing.T) {
	low, err := Lookup("VA-Low")
	if err != nil {
		t.Fatal(err)
	}
	// The seed's VA: 2 CPUs, 8192 MB, E1000 adapters, LSI Logic Parallel
	// SCSI; License Summary platform limits CAS/wIPS/MSAP 2000 each.
	if low.VCPU != 2 || low.MemoryMB != 8192 {
		t.Errorf("VA-Low sizes %d/%d", low.VCPU, low.MemoryMB)
	}
	for _, svc := range []Service{CAS, WIPS, MSAP} {
		if low.PlatformLimit(svc) != 2000 {
			t.Errorf("VA-Low %s limit %d, seed says 2000", svc, low.PlatformLimit(svc))
		}
	}
	drivers := strings.Join(low.Drivers(), " ")
	if !strings.Contains(drivers, "e1000") || !strings.Contains(drivers, "mptspi") {
		t.Errorf("VA-Low drivers %q lack the seed's E1000 / LSI Logic Parallel", drivers)
	}
	// VA sizes grow strictly, which board's size detection relies on.
	va := []string{"VA-Low", "VA-Standard", "VA-High"}
	for i := 1; i < len(va); i++ {
		a, _ := Lookup(va[i-1])
		b, _ := Lookup(va[i])
		if b.VCPU <= a.VCPU || b.MemoryMB <= a.MemoryMB {
			t.Errorf("%s is not larger than %s", b.Model, a.Model)
		}
	}
}
