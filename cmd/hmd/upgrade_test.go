package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/upgrade"
	"github.com/hafw/hafw/upgrade/upgradetest"
)

// upgradeOnly is a backend with nothing but the upgrade routes: the test
// calls no other.
type upgradeOnly struct {
	api.Backend
	*firmware
}

// serveFirmware serves fw's routes of hmd's API on a unix socket, as hmd
// does for hactl, and returns a client of it.
func serveFirmware(t *testing.T, fw *firmware) *api.Client {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "hmd.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: api.NewHandler(upgradeOnly{firmware: fw}, api.Local{}, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return api.NewUnixClient(socket)
}

// TestUpgradeThroughTheAPI sends bundles to hmd's API over its unix socket
// as `hactl upgrade` does: a bundle for another profile is refused with
// the reason and leaves the boot partition and the upload directory as
// they were; the right one is verified and written with progress, logged
// as an event, shows as pending and reboots the appliance when asked.
func TestUpgradeThroughTheAPI(t *testing.T) {
	esp, etc, good, other := upgradetest.Fixture(t)
	var mu sync.Mutex
	var evs []string
	rebooted := make(chan struct{}, 1)
	stateDir := t.TempDir()
	fw := newFirmware(upgrade.MachineAt(esp, etc, nil), stateDir,
		func(context.Context) error { rebooted <- struct{}{}; return nil },
		func(_ netip.Addr, description, _ string) { mu.Lock(); evs = append(evs, description); mu.Unlock() },
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	c := serveFirmware(t, fw)
	ctx := context.Background()
	send := func(path string, req api.UpgradeRequest) (api.UpgradeResult, []api.UpgradeProgress, error) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		var lines []api.UpgradeProgress
		res, err := c.Upgrade(ctx, req, f, st.Size(), func(p api.UpgradeProgress) { lines = append(lines, p) })
		return res, lines, err
	}
	before, err := fw.machine.Status()
	if err != nil {
		t.Fatal(err)
	}

	_, _, err = send(other, api.UpgradeRequest{})
	var ae *api.Error
	if !errors.As(err, &ae) || !strings.Contains(ae.Message, "bundle is for 3310, this appliance is 3355") {
		t.Fatalf("another profile's bundle: %v", err)
	}
	if after, err := fw.machine.Status(); err != nil || !reflect.DeepEqual(after, before) {
		t.Fatalf("the refused bundle changed the slots: %+v, %v", after, err)
	}
	if _, err := os.Stat(filepath.Join(esp, "hafw", "b")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused bundle wrote slot B: %v", err)
	}
	if left, _ := os.ReadDir(fw.UploadDir()); len(left) != 0 {
		t.Fatalf("the refused upload stayed behind: %v", left)
	}

	res, lines, err := send(good, api.UpgradeRequest{Reboot: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Slot != "b" || res.Version != "2.0" || res.Previous != "1.0" || res.RebootAt == "" ||
		!strings.Contains(res.Message, "version 2.0 installed in slot B (entry hafw-b+3.conf, 3 tries)") {
		t.Fatalf("result %+v", res)
	}
	stages := map[string]bool{}
	for _, l := range lines {
		if l.Done == l.Total && l.Total > 0 {
			stages[l.Stage] = true
		}
	}
	if !stages["verify"] || !stages["write"] {
		t.Fatalf("progress lines %+v: want verify and write each to their end", lines)
	}
	select {
	case <-rebooted:
	case <-time.After(10 * time.Second):
		t.Fatal("no reboot after an install asked to reboot now")
	}
	mu.Lock()
	if len(evs) != 1 || !strings.Contains(evs[0], "Firmware version 2.0 installed in slot B; it boots on trial at the next reboot (version 1.0 stays in slot A)") {
		t.Errorf("events %q", evs)
	}
	mu.Unlock()
	st, err := c.UpgradeStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Slots) != 2 || !st.Slots[0].Active || !st.Slots[1].Pending || st.Slots[1].Version != "2.0" {
		t.Fatalf("slots after the install: %+v", st.Slots)
	}
	if left, _ := os.ReadDir(fw.UploadDir()); len(left) != 0 {
		t.Fatalf("the installed upload stayed behind: %v", left)
	}
}

// TestUpgradeStatusWithoutBootSlots: boot slots that cannot be read (the
// boot partition not mounted) are refused as unavailable for now (503,
// reason "unavailable"), not answered as an internal error.
func TestUpgradeStatusWithoutBootSlots(t *testing.T) {
	fw := newFirmware(upgrade.MachineAt(filepath.Join(t.TempDir(), "not-mounted"), t.TempDir(), nil), t.TempDir(),
		func(context.Context) error { return nil }, func(netip.Addr, string, string) {},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	_, err := serveFirmware(t, fw).UpgradeStatus(context.Background())
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != http.StatusServiceUnavailable || ae.Reason != "unavailable" || !strings.Contains(ae.Message, "boot slots unknown") {
		t.Fatalf("upgrade status without boot slots: %#v, want a 503 refusal (unavailable)", err)
	}
}
