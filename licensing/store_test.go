package licensing

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// dirState is name → content of every file in dir, to prove a refused
// install changed nothing.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(data)
	}
	return out
}

func TestStore(t *testing.T) {
	pub, priv := newKey(t)
	_, otherPriv := newKey(t)
	dir := filepath.Join(t.TempDir(), "licenses")
	s := Store{Dir: dir, Pub: pub, UDI: testUDI, Now: func() time.Time { return testToday }}

	if all, err := s.List(); err != nil || len(all) != 0 {
		t.Fatalf("missing dir: %v, %v", all, err)
	}
	act := issue(t, priv, License{ID: "LIC-A", Feature: Activation, Count: 1, UDI: testUDI, Issued: testToday})
	cas := issue(t, priv, License{ID: "LIC-C", Feature: CAS, Count: 100, UDI: testUDI, Issued: testToday, Expires: testToday.AddDate(0, 0, 10)})
	for _, data := range [][]byte{act, cas, act} { // the second act is a harmless repeat
		if _, err := s.Install(data); err != nil {
			t.Fatal(err)
		}
	}
	before := dirState(t, dir)
	if len(before) != 2 || before["LIC-A.lic"] != string(act) {
		t.Fatalf("store holds %v", before)
	}

	refused := map[string][]byte{
		"forged":        issue(t, otherPriv, License{ID: "LIC-F", Feature: CAS, Count: 50000, UDI: testUDI, Issued: testToday}),
		"foreign":       issue(t, priv, License{ID: "LIC-O", Feature: CAS, Count: 5, UDI: otherUDI, Issued: testToday}),
		"same id":       issue(t, priv, License{ID: "LIC-C", Feature: CAS, Count: 999, UDI: testUDI, Issued: testToday}),
		"malformed":     []byte("not a license\n"),
		"expired today": issue(t, priv, License{ID: "LIC-E", Feature: MSAP, Count: 5, UDI: testUDI, Issued: testToday.AddDate(-1, 0, 0), Expires: testToday.AddDate(0, 0, -1)}),
	}
	for name, data := range refused {
		if _, err := s.Install(data); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: Install gave %v, want a one-line refusal", name, err)
		}
		if after := dirState(t, dir); !reflect.DeepEqual(after, before) {
			t.Fatalf("%s: refused install changed the store: %v", name, after)
		}
	}

	// Files copied in by hand: a forged one and a duplicate are reported, not counted.
	if err := os.WriteFile(filepath.Join(dir, "copied.lic"), refused["forged"], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dup.lic"), cas, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("not a license"), 0o644); err != nil {
		t.Fatal(err)
	}
	valid, problems, err := s.LoadVerified()
	if err != nil {
		t.Fatal(err)
	}
	if len(valid) != 2 || valid[0].ID != "LIC-A" || valid[1].ID != "LIC-C" {
		t.Fatalf("valid = %+v", valid)
	}
	if len(problems) != 2 {
		t.Fatalf("problems = %v", problems)
	}
	joined := problems[0].Error() + " | " + problems[1].Error()
	if !strings.Contains(joined, "copied.lic: license LIC-F: signature does not verify") ||
		!strings.Contains(joined, "dup.lic: license LIC-C is already counted from "+filepath.Join(dir, "LIC-C.lic")) {
		t.Fatalf("problems do not name their files: %s", joined)
	}

	// Ten days later the CAS license has expired: listed with a reason, removable.
	s.Now = func() time.Time { return testToday.AddDate(0, 0, 11) }
	valid, _, _ = s.LoadVerified()
	if len(valid) != 1 || valid[0].ID != "LIC-A" {
		t.Fatalf("after expiry valid = %+v", valid)
	}
	if err := s.Remove("LIC-C"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("LIC-C"); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("second remove: %v", err)
	}
	if err := s.Remove("../LIC-A"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("path in id: %v", err)
	}
	left := dirState(t, dir)
	if _, ok := left["LIC-A.lic"]; !ok || len(left) != 3 { // LIC-A, copied.lic, README
		t.Fatalf("after remove: %v", left)
	}
}

func TestStoreUnreadableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := Store{Dir: file}
	if _, _, err := s.LoadVerified(); err == nil {
		t.Fatal("a file as license directory gave no error")
	}
}

// TestStoreRemoveFeature deletes the activation licenses, expired ones
// too, and leaves the others.
func TestStoreRemoveFeature(t *testing.T) {
	pub, priv := newKey(t)
	dir := t.TempDir()
	now := testToday
	s := Store{Dir: dir, Pub: pub, UDI: testUDI, Now: func() time.Time { return now }}
	for _, l := range []License{
		{ID: "ACT-1", Feature: Activation, Count: 1, UDI: testUDI, Issued: testToday, Expires: testToday.AddDate(0, 0, 1)},
		{ID: "ACT-2", Feature: Activation, Count: 1, UDI: testUDI, Issued: testToday},
		{ID: "CAS-1", Feature: CAS, Count: 100, UDI: testUDI, Issued: testToday},
	} {
		if _, err := s.Install(issue(t, priv, l)); err != nil {
			t.Fatal(err)
		}
	}
	now = testToday.AddDate(0, 0, 5) // ACT-1 has expired
	removed, err := s.RemoveFeature(Activation)
	if err != nil || len(removed) != 2 || removed[0].ID != "ACT-1" || removed[1].ID != "ACT-2" {
		t.Fatalf("RemoveFeature = %+v, %v", removed, err)
	}
	if left := dirState(t, dir); len(left) != 1 || left["CAS-1.lic"] == "" {
		t.Errorf("left %v, want CAS-1 only", left)
	}
	if removed, err := s.RemoveFeature(Activation); err != nil || len(removed) != 0 {
		t.Errorf("with none installed: %+v, %v", removed, err)
	}
}
