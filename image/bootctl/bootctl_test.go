package bootctl

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hafw/hafw/internal/testenv"
)

func TestEncodeString(t *testing.T) {
	want := []byte{7, 0, 0, 0, 'h', 0, '-', 0, 0xe9, 0, 0, 0}
	if got := EncodeString("h-é"); !bytes.Equal(got, want) {
		t.Fatalf("% x, want % x", got, want)
	}
	s, err := DecodeString(want)
	if err != nil || s != "h-é" {
		t.Fatalf("%q %v", s, err)
	}
	if _, err := DecodeString([]byte{7, 0, 0}); err == nil {
		t.Fatal("short variable accepted")
	}
}

func TestRecoveryEntry(t *testing.T) {
	for in, want := range map[string]string{
		"hafw-a.conf": "hafw-a-recovery.conf", "hafw-b.conf": "hafw-b-recovery.conf",
		// booted on trial: the loader has already counted this boot
		"hafw-b+3.conf": "hafw-b-recovery.conf", "hafw-b+2-1.conf": "hafw-b-recovery.conf", "hafw-a+0-3.conf": "hafw-a-recovery.conf",
	} {
		if got, err := RecoveryEntry(in); err != nil || got != want {
			t.Errorf("%s: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "debian.conf", "hafw-a-recovery.conf", "hafw-.conf", "hafw-c+2-1.conf", "hafw-b+x.conf"} {
		if _, err := RecoveryEntry(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestOneShotRoundTrip(t *testing.T) {
	v := Vars{Dir: t.TempDir()}
	if _, err := v.Selected(); err == nil || !strings.Contains(err.Error(), "not booted by systemd-boot") {
		t.Fatalf("Selected on empty dir: %v", err)
	}
	if err := os.WriteFile(v.path("LoaderEntrySelected"), EncodeString("hafw-b.conf"), 0o644); err != nil {
		t.Fatal(err)
	}
	sel, err := v.Selected()
	if err != nil || sel != "hafw-b.conf" {
		t.Fatalf("Selected = %q, %v", sel, err)
	}
	if got, _ := v.OneShot(); got != "" {
		t.Fatalf("OneShot before set = %q", got)
	}
	for _, e := range []string{"hafw-b-recovery.conf", "hafw-a.conf"} {
		if err := v.SetOneShot(e); err != nil {
			t.Fatal(err)
		}
		if got, err := v.OneShot(); err != nil || got != e {
			t.Fatalf("OneShot = %q, %v; want %q", got, err, e)
		}
	}
}

// TestSetOneShotClearsImmutable: efivarfs marks existing variables
// immutable; an ext4 file with chattr +i behaves the same for the ioctl.
func TestSetOneShotClearsImmutable(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "chattr")
	v := Vars{Dir: t.TempDir()}
	if err := v.SetOneShot("hafw-a.conf"); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chattr", "+i", v.path("LoaderEntryOneShot")).CombinedOutput(); err != nil {
		testenv.Unavailable(t, "the temp directory's file system has no immutable flag: "+strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", v.path("LoaderEntryOneShot")).Run() })
	if err := os.WriteFile(v.path("LoaderEntryOneShot"), []byte("x"), 0o644); err == nil {
		t.Fatal("immutable flag did not stick; the test proves nothing")
	}
	if err := v.SetOneShot("hafw-a-recovery.conf"); err != nil {
		t.Fatal(err)
	}
	if got, _ := v.OneShot(); got != "hafw-a-recovery.conf" {
		t.Fatalf("OneShot = %q", got)
	}
}

func TestEnsureMountedWithoutEFI(t *testing.T) {
	err := EnsureMounted(filepath.Join(t.TempDir(), "no-efi", "efivars"))
	if err == nil || !strings.Contains(err.Error(), "not booted through UEFI") {
		t.Fatalf("err = %v", err)
	}
}
