package initagent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/events"
	"github.com/hafw/hafw/image/bootctl"
	"github.com/hafw/hafw/upgrade"
)

// trialESP lays out a boot partition after an install into slot B: A
// committed, B pending, with B's entry named as the loader left it.
func trialESP(t *testing.T, bEntry string) upgrade.Dir {
	t.Helper()
	d := upgrade.Dir(t.TempDir())
	s := upgrade.Slots{Active: "a", Slots: map[string]upgrade.Slot{
		"a": {Version: "1.0", State: upgrade.StateGood, Seq: 1},
		"b": {Version: "2.0", State: upgrade.StatePending, Seq: 2},
	}}
	files := map[string]string{
		upgrade.SlotsFile:                   string(s.Marshal()),
		upgrade.EntriesDir + "/hafw-a.conf": "title a\n",
		upgrade.EntriesDir + "/" + bEntry:   "title b\n",
		"hafw/b/vmlinuz":                    "kernel 2.0",
	}
	for name, data := range files {
		if err := d.WriteFile(name, strings.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestHMDStable(t *testing.T) {
	for _, c := range []struct {
		st   HMDStatus
		err  error
		want bool
	}{
		{HMDStatus{Running: true, Role: config.RolePrimary, State: "PRIMARY_ACTIVE"}, nil, true},
		{HMDStatus{Running: true, Role: config.RoleSecondary, State: "SECONDARY_ACTIVE"}, nil, true},
		{HMDStatus{Running: true, Role: config.RolePrimary, State: "TERMINATED"}, nil, true},
		{HMDStatus{Running: true, Role: config.RoleNone, State: "NONE"}, nil, true},
		{HMDStatus{Running: true, Role: config.RolePrimary, State: "INITIALIZING"}, nil, false},
		{HMDStatus{Running: true, Role: config.RolePrimary, State: "FAILOVER_INVOKED"}, nil, false},
		{HMDStatus{Running: true, Role: config.RoleSecondary, State: "NONE"}, nil, false},
		// A secondary not paired yet is settled (hmd says NOT_PAIRED).
		{HMDStatus{Running: true, Role: config.RoleSecondary, State: "NOT_PAIRED"}, nil, true},
		{HMDStatus{Running: true, Role: config.RoleSecondary, State: "INITIALIZING", PeerProfiles: []string{"3355"}}, nil, false},
		// An unactivated virtual primary takes no role: settled, so that
		// an upgrade of it commits instead of rolling back.
		{HMDStatus{Running: true, Role: config.RolePrimary, HARole: "none", State: "NONE"}, nil, true},
		{HMDStatus{Running: false, Role: config.RolePrimary, State: "PRIMARY_ACTIVE"}, nil, false},
		{HMDStatus{}, errors.New("connection refused"), false},
	} {
		if got, why := HMDStable(c.st, c.err); got != c.want || (!got && why == "") {
			t.Errorf("%+v %v: %v %q", c.st, c.err, got, why)
		}
	}
}

func testTrial(d upgrade.Dir, status func(context.Context) (HMDStatus, error)) (*trial, *strings.Builder, *int) {
	console := &strings.Builder{}
	reboots := new(int)
	return &trial{
		boot: d, slot: "b", version: "2.0", status: status,
		timeout: 2 * time.Second, stable: 200 * time.Millisecond, poll: 20 * time.Millisecond,
		consolef: func(f string, a ...any) { fmt.Fprintf(console, f+"\n", a...) },
		reboot:   func() { *reboots++ },
	}, console, reboots
}

func TestTrialCommitsWhenHealthy(t *testing.T) {
	d := trialESP(t, "hafw-b+2-1.conf")
	calls := 0
	tr, console, reboots := testTrial(d, func(context.Context) (HMDStatus, error) {
		calls++
		if calls < 3 { // coming up first: not settled
			return HMDStatus{Running: true, Role: config.RolePrimary, State: "INITIALIZING"}, nil
		}
		return HMDStatus{Running: true, Role: config.RolePrimary, State: "PRIMARY_ACTIVE"}, nil
	})
	tr.run(context.Background(), true, nil)
	entries, _ := d.List(upgrade.EntriesDir)
	s, _ := upgrade.ReadSlots(d)
	if !slices.Equal(entries, []string{"hafw-a.conf", "hafw-b.conf"}) || s.Active != "b" || s.Slots["b"].State != upgrade.StateGood || *reboots != 0 {
		t.Fatalf("entries %q slots %+v reboots %d; console:\n%s", entries, s, *reboots, console)
	}
	if !strings.Contains(console.String(), "version 2.0 in slot B is healthy and committed") {
		t.Errorf("console:\n%s", console)
	}
}

func TestTrialFailsAndRollsBack(t *testing.T) {
	for _, c := range []struct {
		name        string
		dataMounted bool
		startErr    error
		state       string
		want        string
	}{
		{"hmd never settles", true, nil, "INITIALIZING", "hmd did not settle within 2s: hmd is in state INITIALIZING"},
		{"hmd not ready", true, errors.New("hmd did not report ready within 1m0s"), "PRIMARY_ACTIVE", "hmd did not report ready"},
		{"no data partition", false, nil, "PRIMARY_ACTIVE", "the data partition is not mounted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := trialESP(t, "hafw-b+0-3.conf")
			tr, console, reboots := testTrial(d, func(context.Context) (HMDStatus, error) {
				return HMDStatus{Running: true, Role: config.RolePrimary, State: c.state}, nil
			})
			tr.run(context.Background(), c.dataMounted, c.startErr)
			s, _ := upgrade.ReadSlots(d)
			if *reboots != 1 || s.Active != "a" || s.Slots["b"].State != upgrade.StatePending || !strings.Contains(s.Slots["b"].Failure, c.want) {
				t.Fatalf("reboots %d slots %+v; console:\n%s", *reboots, s, console)
			}
			// The loader used up the tries: slot A boots, and its check
			// reports the failed version with the recorded reason.
			dec, err := upgrade.Check(d, "hafw-a.conf")
			if err != nil || len(dec.Findings) != 1 || !strings.Contains(dec.Findings[0].Text, "Upgrade to version 2.0 failed and was rolled back to version 1.0: "+c.want) {
				t.Fatalf("%+v %v", dec, err)
			}
		})
	}
	// A shutdown during the trial decides nothing.
	d := trialESP(t, "hafw-b+2-1.conf")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tr, _, reboots := testTrial(d, func(context.Context) (HMDStatus, error) { return HMDStatus{}, context.Canceled })
	tr.run(ctx, true, nil)
	if s, _ := upgrade.ReadSlots(d); *reboots != 0 || s.Slots["b"].Failure != "" || s.Slots["b"].State != upgrade.StatePending {
		t.Fatalf("shutdown during trial: reboots %d slots %+v", *reboots, s)
	}
}

// TestBootSlotsStep: the boot partition (the partition named hafw-esp) and
// efivarfs are mounted, a slot whose tries ran out is reported on the
// console and in hmd's events log, and a boot of the slot on trial is
// noted for the commit.
func TestBootSlotsStep(t *testing.T) {
	a, sys, console := testAgent(t, "")
	disks := fakeDisks(t, map[string][]byte{"vda1": make([]byte, 4096), "vda2": extHead("hafw-data")}, map[string]string{"vda1": ESPPartition, "vda2": "hafw-data"})
	a.Paths.Sys, a.Paths.Dev = disks.SysRoot, disks.DevRoot
	a.Paths.Efivars = filepath.Join(t.TempDir(), "efi", "efivars")
	if err := os.MkdirAll(a.Paths.Efivars, 0o755); err != nil {
		t.Fatal(err)
	}
	setSelected := func(entry string) {
		t.Helper()
		p := filepath.Join(a.Paths.Efivars, "LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f")
		if err := os.WriteFile(p, bootctl.EncodeString(entry), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Rolled back: B's tries ran out, A booted.
	a.Paths.ESP = string(trialESP(t, "hafw-b+0-3.conf"))
	setSelected("hafw-a.conf")
	b := &bootState{dataMounted: true, role: config.RolePrimary}
	if err := stepBootSlots(context.Background(), a, b); err != nil {
		t.Fatal(err)
	}
	wantCalls := []string{
		"mount vfat " + filepath.Join(disks.DevRoot, "vda1") + " " + a.Paths.ESP,
		"mount efivarfs efivarfs " + a.Paths.Efivars,
	}
	if !slices.Equal(sys.calls, wantCalls) || b.slots.trial != "" || b.slots.esp != a.Paths.ESP {
		t.Fatalf("calls %q, slots %+v", sys.calls, b.slots)
	}
	want := "Upgrade to version 2.0 failed and was rolled back to version 1.0: no healthy boot in 3 tries"
	if !strings.Contains(console.String(), "hafw-upgrade: "+want) {
		t.Errorf("console:\n%s", console)
	}
	l, err := events.Open(filepath.Join(a.Paths.Layout().HMDDir(), events.File), 0)
	if err != nil {
		t.Fatal(err)
	}
	evs := l.List("", 0)
	if len(evs) != 1 || !strings.HasPrefix(evs[0].Description, want) || evs[0].GeneratedBy != "Primary" || evs[0].Remarks != "boot slot B" {
		t.Fatalf("events %+v", evs)
	}
	if s, _ := upgrade.ReadSlots(upgrade.Dir(a.Paths.ESP)); s.Slots["b"].State != upgrade.StateFailed {
		t.Errorf("slots after rollback %+v", s)
	}

	// On trial: B booted from its counted entry.
	a.Paths.ESP = string(trialESP(t, "hafw-b+2-1.conf"))
	setSelected("hafw-b+2-1.conf")
	b = &bootState{dataMounted: true}
	if err := stepBootSlots(context.Background(), a, b); err != nil {
		t.Fatal(err)
	}
	if b.slots.trial != "b" || b.slots.trialVersion != "2.0" || b.slots.entry != "hafw-b+2-1.conf" {
		t.Fatalf("trial boot: %+v", b.slots)
	}
	// The same boot in recovery mode is no trial.
	b = &bootState{dataMounted: true, recovery: true}
	if err := stepBootSlots(context.Background(), a, b); err != nil || b.slots.trial != "" {
		t.Fatalf("recovery boot: %+v %v", b.slots, err)
	}

	// No boot partition: a warning, nothing mounted.
	a, sys, _ = testAgent(t, "")
	if err := stepBootSlots(context.Background(), a, &bootState{}); err == nil || len(sys.calls) != 0 {
		t.Fatalf("no ESP: %v, calls %q", err, sys.calls)
	}
}
