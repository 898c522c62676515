package upgrade

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/hafw/hafw/licensing"
)

// SlotReport is one boot slot as an operator sees it (`hafw upgrade
// status`, `hactl upgrade status`, gethainfo, the console).
type SlotReport struct {
	Name    string   `json:"name"` // "A" or "B"
	Version string   `json:"version,omitempty"`
	State   string   `json:"state,omitempty"`
	Entries []string `json:"entries,omitempty"` // its normal loader entries
	Active  bool     `json:"active"`
	// Trial is set while this boot runs the slot on trial; Pending while
	// the slot waits for the next boot.
	Trial   bool   `json:"trial,omitempty"`
	Pending bool   `json:"pending,omitempty"`
	Failure string `json:"failure,omitempty"`
	// Seq is the slot's install sequence number: it tells installs of the
	// same version apart.
	Seq int `json:"seq,omitempty"`
}

// Note is the report's one-phrase summary.
func (r SlotReport) Note() string {
	switch {
	case r.Active:
		return "active"
	case r.Trial:
		return "running on trial: committed once healthy, else the tries run out"
	case r.Pending:
		return "pending: boots next, on trial"
	case r.State == StateFailed:
		return "failed: " + r.Failure
	}
	return ""
}

// Report describes both slots from slots.json, the loader entries on the
// boot partition and the entry this boot came from ("" when unknown).
func Report(s Slots, entries []string, booted string) []SlotReport {
	out := make([]SlotReport, 0, len(SlotNames))
	for _, name := range SlotNames {
		sl := s.Slots[name]
		r := SlotReport{Name: strings.ToUpper(name), Version: sl.Version, State: sl.State, Active: name == s.Active, Failure: sl.Failure, Seq: sl.Seq}
		for _, e := range entries {
			if p, ok := ParseEntry(e); ok && p.Slot == name && !p.Recovery {
				r.Entries = append(r.Entries, e)
			}
		}
		if !r.Active && sl.State == StatePending {
			r.Trial = BootedSlot(booted) == name
			r.Pending = !r.Trial
		}
		out = append(out, r)
	}
	return out
}

// WriteTable prints slots as `hafw upgrade status` and `hactl upgrade
// status` show them.
func WriteTable(w io.Writer, slots []SlotReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Slot\tVersion\tState\tEntry\tNote")
	for _, r := range slots {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, dash(r.Version), dash(r.State), dash(strings.Join(r.Entries, " ")), r.Note())
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Machine is the upgrade side of a running appliance: its mounted boot
// partition, its firmware identity and the loader entry it booted from.
// `hafw upgrade` and hmd's API share it.
type Machine struct {
	Boot Boot
	// The firmware identity files of the running image (/etc/hafw/profile,
	// version and vendor.pub on the appliance): a bundle must be for this
	// profile, newer than this version and signed with this key.
	ProfileFile, VersionFile, VendorKeyFile string
	// Booted is the loader entry this boot came from; an error means
	// unknown (off UEFI), and slots.json decides.
	Booted func() (string, error)
	Log    *slog.Logger
}

// MachineAt is the Machine of an appliance whose boot partition is
// mounted at esp and whose identity files are in etc.
func MachineAt(esp, etc string, booted func() (string, error)) Machine {
	return Machine{Boot: Dir(esp), ProfileFile: filepath.Join(etc, "profile"), VersionFile: filepath.Join(etc, "version"),
		VendorKeyFile: filepath.Join(etc, "vendor.pub"), Booted: booted}
}

// Status reports the slots.
func (m Machine) Status() ([]SlotReport, error) {
	s, err := ReadSlots(m.Boot)
	if err != nil {
		return nil, err
	}
	entries, err := m.Boot.List(EntriesDir)
	if err != nil {
		return nil, err
	}
	return Report(s, entries, m.booted()), nil
}

// OtherSlotEntry is the loader entry that boots, once, the slot other
// than the running one (its recovery entry with recovery): for a field
// engineer who wants the previous firmware back for a boot, say to compare
// a fault. Only a slot that has booted well (good) may be picked: an
// empty, interrupted, failed or untried slot is refused with its state.
func (m Machine) OtherSlotEntry(recovery bool) (string, error) {
	s, err := ReadSlots(m.Boot)
	if err != nil {
		return "", err
	}
	entries, err := m.Boot.List(EntriesDir)
	if err != nil {
		return "", err
	}
	return otherSlotEntry(s, entries, m.booted(), recovery)
}

func otherSlotEntry(s Slots, entries []string, booted string, recovery bool) (string, error) {
	running := BootedSlot(booted)
	if running == "" {
		running = s.Active
	}
	other := Other(running)
	sl := s.Slots[other]
	if sl.State != StateGood {
		what := "holds no firmware"
		switch sl.State {
		case StateFailed:
			what = "failed its trial (" + sl.Failure + ")"
		case StatePending:
			what = "is pending its first boot (it boots next on trial anyway)"
		case StateWriting:
			what = "was being written"
		}
		return "", fmt.Errorf("slot %s %s: only a slot that has booted well can be chosen", strings.ToUpper(other), what)
	}
	want := EntryName(other, recovery, 0)
	for _, e := range entries {
		if e == want {
			return want, nil
		}
	}
	return "", fmt.Errorf("slot %s (version %s) has no loader entry %s on the boot partition", strings.ToUpper(other), sl.Version, want)
}

// Install verifies the bundle at path against this appliance and installs
// it into the inactive slot (Installer.Install).
func (m Machine) Install(ctx context.Context, path string, allowDowngrade bool, progress Progress) (*Installed, error) {
	profile, err := readLine(m.ProfileFile)
	if err != nil {
		return nil, fmt.Errorf("this appliance's profile: %w", err)
	}
	running, err := readLine(m.VersionFile)
	if err != nil {
		return nil, fmt.Errorf("this appliance's version: %w", err)
	}
	pub, err := licensing.ReadPublicKey(m.VendorKeyFile)
	if err != nil {
		return nil, err
	}
	in := Installer{Boot: m.Boot, Pub: pub, Booted: m.booted(), Log: m.Log,
		Policy: Policy{Profile: profile, Running: running, DataSchema: DataSchema, AllowDowngrade: allowDowngrade}}
	return in.Install(ctx, path, progress)
}

func readLine(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

func (m Machine) booted() string {
	if m.Booted == nil {
		return ""
	}
	e, err := m.Booted()
	if err != nil {
		return ""
	}
	return e
}
