package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/refusal"
	"github.com/hafw/hafw/upgrade"
)

// rebootGrace is the least delay of a reboot asked for "now": the answer
// that says so must reach the operator before the appliance goes down.
const rebootGrace = 2 * time.Second

// firmware is the upgrade side of hmd's API (api.UpgradeBackend): the
// install of an uploaded bundle into the inactive boot slot, its events
// log row and the reboot the operator schedules. A scheduled reboot lives
// in hmd's memory: if hmd restarts first it is gone, and the new slot
// still boots at the next reboot however caused (GET /v1/upgrade says
// which is pending).
type firmware struct {
	machine upgrade.Machine
	uploads string
	// reboot asks the init agent for an orderly reboot.
	reboot func(ctx context.Context) error
	// event adds a row to the events log.
	event func(description, remarks string)
	log   *slog.Logger

	installing sync.Mutex // one install at a time

	mu       sync.Mutex
	rebootAt time.Time
	timer    *time.Timer
}

// UploadDir implements api.UpgradeBackend.
func (f *firmware) UploadDir() string { return f.uploads }

// UpgradeStatus implements api.UpgradeBackend.
func (f *firmware) UpgradeStatus(context.Context) (api.UpgradeStatus, error) {
	slots, err := f.machine.Status()
	if err != nil {
		return api.UpgradeStatus{}, &refusal.Error{Reason: refusal.Unavailable, Message: fmt.Sprintf("boot slots unknown: %v (is the boot partition mounted?)", err), Err: err}
	}
	st := api.UpgradeStatus{Slots: slots}
	f.mu.Lock()
	if !f.rebootAt.IsZero() {
		st.RebootAt = f.rebootAt.UTC().Format(time.RFC3339)
	}
	f.mu.Unlock()
	return st, nil
}

// InstallUpgrade implements api.UpgradeBackend.
func (f *firmware) InstallUpgrade(ctx context.Context, req api.UpgradeRequest, path string, progress upgrade.Progress) (api.UpgradeResult, error) {
	if !f.installing.TryLock() {
		return api.UpgradeResult{}, fmt.Errorf("%w: another update bundle is being installed", upgrade.ErrBusy)
	}
	defer f.installing.Unlock()
	res, err := f.machine.Install(ctx, path, req.AllowDowngrade, progress)
	if err != nil {
		f.log.Warn("update bundle refused", "err", err)
		return api.UpgradeResult{}, err
	}
	f.event(fmt.Sprintf("Firmware version %s installed in slot %s; it boots on trial at the next reboot (version %s stays in slot %s)",
		res.Version, strings.ToUpper(res.Slot), res.Previous, strings.ToUpper(upgrade.Other(res.Slot))), "upgrade")
	out := api.UpgradeResult{Installed: *res, Message: res.Summary()}
	if !req.Reboot.IsZero() {
		at := f.schedule(req.Reboot)
		out.RebootAt = at.UTC().Format(time.RFC3339)
		out.Message += fmt.Sprintf("; the appliance reboots at %s", out.RebootAt)
	}
	return out, nil
}

// schedule replaces any scheduled reboot by one at (no sooner than the
// grace) and returns when it will be.
func (f *firmware) schedule(at time.Time) time.Time {
	if soonest := time.Now().Add(rebootGrace); at.Before(soonest) {
		at = soonest
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.timer != nil {
		f.timer.Stop()
	}
	f.rebootAt = at
	f.timer = time.AfterFunc(time.Until(at), func() {
		f.log.Info("rebooting into the installed firmware, as scheduled")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := f.reboot(ctx); err != nil {
			f.log.Error("scheduled reboot failed", "err", err)
			f.event("Scheduled reboot into the installed firmware failed: "+err.Error(), "upgrade")
		}
		f.mu.Lock()
		f.rebootAt, f.timer = time.Time{}, nil
		f.mu.Unlock()
	})
	return at
}

// newFirmware is hmd's firmware side; uploads wait in the state
// directory's uploads/ (the data partition).
func newFirmware(m upgrade.Machine, stateDir string, reboot func(context.Context) error, event func(netip.Addr, string, string), log *slog.Logger) *firmware {
	m.Log = log
	return &firmware{machine: m, uploads: filepath.Join(stateDir, "uploads"), reboot: reboot, log: log,
		event: func(description, remarks string) { event(netip.Addr{}, description, remarks) }}
}
