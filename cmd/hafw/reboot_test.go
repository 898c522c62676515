package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hafw/hafw/image/bootctl"
	"github.com/hafw/hafw/upgrade"
	"github.com/hafw/hafw/upgrade/upgradetest"
)

// fakeAgent serves the init agent's reboot endpoint on a unix socket and
// counts requests (the real agent's reboot is covered by its own tests).
func fakeAgent(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "initagent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/reboot" {
			n.Add(1)
			w.Write([]byte("{}"))
			return
		}
		http.NotFound(w, r)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sock, &n
}

func TestRebootRecoveryOneShot(t *testing.T) {
	sock, reboots := fakeAgent(t)
	efi := t.TempDir()
	vars := bootctl.Vars{Dir: efi}
	if err := os.WriteFile(filepath.Join(efi, "LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"), bootctl.EncodeString("hafw-b.conf"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := hafw(t, "reboot", "--recovery", "--efivars", efi, "--control", sock)
	if code != 0 || !strings.Contains(out, "next boot, once: hafw-b-recovery.conf") || reboots.Load() != 1 {
		t.Fatalf("exit %d, %d reboots\n%s%s", code, reboots.Load(), out, errOut)
	}
	if got, _ := vars.OneShot(); got != "hafw-b-recovery.conf" {
		t.Fatalf("one-shot = %q", got)
	}

	// A plain reboot leaves the variables alone.
	if err := vars.SetOneShot("hafw-b.conf"); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := hafw(t, "reboot", "--efivars", efi, "--control", sock); code != 0 || reboots.Load() != 2 {
		t.Fatalf("plain reboot: exit %d: %s", code, errOut)
	}
	if got, _ := vars.OneShot(); got != "hafw-b.conf" {
		t.Fatalf("plain reboot changed the one-shot to %q", got)
	}
}

func TestRebootRecoveryFailures(t *testing.T) {
	efi := t.TempDir()
	// Not booted by systemd-boot: nothing set, no reboot.
	sock, reboots := fakeAgent(t)
	code, _, errOut := hafw(t, "reboot", "--recovery", "--efivars", efi, "--control", sock)
	if code != 1 || !strings.Contains(errOut, "LoaderEntrySelected") || reboots.Load() != 0 {
		t.Fatalf("exit %d, %d reboots: %s", code, reboots.Load(), errOut)
	}
	// The agent is not running: the one-shot is set, and the message says so.
	os.WriteFile(filepath.Join(efi, "LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"), bootctl.EncodeString("hafw-a.conf"), 0o644)
	code, _, errOut = hafw(t, "reboot", "--recovery", "--efivars", efi, "--control", filepath.Join(efi, "none.sock"))
	if code != 1 || !strings.Contains(errOut, "one-shot boot entry is set but the reboot request failed") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// TestRebootOtherSlot: --other-slot boots the other slot once (its
// recovery entry with --recovery), and only when that slot has booted
// well; a refusal sets nothing and does not reboot.
func TestRebootOtherSlot(t *testing.T) {
	sock, reboots := fakeAgent(t)
	// The fixture runs slot a; slot b is empty.
	esp, _, _, _ := upgradetest.Fixture(t)
	const running, other = "a", "b"
	efi := t.TempDir()
	vars := bootctl.Vars{Dir: efi}
	if err := os.WriteFile(filepath.Join(efi, "LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"), bootctl.EncodeString(upgrade.EntryName(running, false, 0)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The fixture's other slot is empty: refused.
	code, _, errOut := hafw(t, "reboot", "--other-slot", "--esp", esp, "--efivars", efi, "--control", sock)
	if code != 1 || !strings.Contains(errOut, "holds no firmware") || reboots.Load() != 0 {
		t.Fatalf("empty other slot: exit %d, %d reboots: %s", code, reboots.Load(), errOut)
	}
	if got, _ := vars.OneShot(); got != "" {
		t.Fatalf("a refusal set the one-shot to %q", got)
	}
	// Make it a slot that booted well, with its entries.
	s, err := upgrade.ReadSlots(upgrade.Dir(esp))
	if err != nil {
		t.Fatal(err)
	}
	s.Slots[other] = upgrade.Slot{Version: "0.9.0", State: upgrade.StateGood}
	if err := os.WriteFile(filepath.Join(esp, upgrade.SlotsFile), s.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, rec := range []bool{false, true} {
		if err := os.WriteFile(filepath.Join(esp, upgrade.EntriesDir, upgrade.EntryName(other, rec, 0)), []byte("title old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for n, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--other-slot"}, upgrade.EntryName(other, false, 0)},
		{[]string{"--other-slot", "--recovery"}, upgrade.EntryName(other, true, 0)},
	} {
		code, out, errOut := hafw(t, append(append([]string{"reboot"}, c.args...), "--esp", esp, "--efivars", efi, "--control", sock)...)
		if code != 0 || !strings.Contains(out, "next boot, once: "+c.want) || reboots.Load() != int32(n+1) {
			t.Fatalf("%v: exit %d, %d reboots\n%s%s", c.args, code, reboots.Load(), out, errOut)
		}
		if got, _ := vars.OneShot(); got != c.want {
			t.Fatalf("%v: one-shot = %q, want %q", c.args, got, c.want)
		}
	}
}
