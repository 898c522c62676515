package upgrade

import (
	"fmt"
	"strings"
)

// Finding is something the boot-time check found that the operator must
// hear about (console, events log).
type Finding struct {
	// Failed is true for a rolled-back upgrade; false for an interrupted
	// install that was cleaned up.
	Failed  bool
	Slot    string
	Version string
	Text    string
}

// Decision is what the boot-time check decided, before it is applied.
type Decision struct {
	Slots Slots
	// Clear lists slots whose entries and files go (they are marked empty
	// or failed in Slots).
	Clear []string
	// Trial is the slot this boot tries: commit it once healthy.
	Trial string
	// Commit is set when the booted slot's entry is already committed but
	// slots.json was not updated yet (power lost in between).
	Commit   string
	Findings []Finding
}

// Changed reports whether the decision writes anything.
func (d Decision) Changed(before Slots) bool {
	return len(d.Clear) > 0 || d.Commit != "" || string(d.Slots.Marshal()) != string(before.Marshal())
}

// BootedSlot is the slot of the loader entry systemd-boot reports
// (LoaderEntrySelected); "" when unknown (no EFI variables).
func BootedSlot(entry string) string {
	e, ok := ParseEntry(entry)
	if !ok {
		return ""
	}
	return e.Slot
}

// Decide is the slot state machine at boot, a pure function of slots.json,
// the entry file names and the entry this boot came from:
//
//	writing  (not booted)                 → empty: the install was interrupted
//	pending  (not booted), +0-N entry     → failed: its tries ran out, the loader fell back
//	pending  (not booted), no entry       → empty: interrupted before the switch
//	pending  (not booted), tries left     → unchanged (the operator picked the other slot)
//	pending  (booted, counted entry)      → trial: commit when healthy
//	pending  (booted, committed entry)    → good, active: finish an interrupted commit
//	good     (booted, not active)         → active (the operator picked it)
//
// A boot of a slot's recovery entry changes nothing about that slot.
func Decide(s Slots, entries []string, bootedEntry string) Decision {
	d := Decision{Slots: Slots{Active: s.Active, Slots: map[string]Slot{}}}
	for k, v := range s.Slots {
		d.Slots.Slots[k] = v
	}
	booted := BootedSlot(bootedEntry)
	be, _ := ParseEntry(bootedEntry)
	if booted == "" {
		booted = s.Active
	}
	normal := map[string]Entry{} // slot → its normal (non-recovery) entry
	for _, n := range entries {
		if e, ok := ParseEntry(n); ok && !e.Recovery {
			normal[e.Slot] = e
		}
	}
	for _, name := range SlotNames {
		sl := d.Slots.Slots[name]
		e, hasEntry := normal[name]
		if name == booted {
			if be.Recovery {
				// Recovery mode proves nothing about the slot's normal
				// boot: no trial, no commit.
				continue
			}
			switch {
			case sl.State == StatePending && hasEntry && e.Counted:
				d.Trial = name
			case sl.State == StatePending || (sl.State == StateGood && s.Active != name):
				if sl.State == StatePending {
					d.Commit = name
				}
				sl.State, sl.Failure = StateGood, ""
				d.Slots.Active = name
			}
			d.Slots.Slots[name] = sl
			continue
		}
		switch {
		case sl.State == StateWriting || (sl.State == StatePending && !hasEntry):
			d.Clear = append(d.Clear, name)
			d.Findings = append(d.Findings, Finding{Slot: name, Version: sl.Version,
				Text: fmt.Sprintf("Upgrade to version %s was interrupted while slot %s was written (power lost?); the slot is marked empty and version %s still runs",
					sl.Version, strings.ToUpper(name), s.Slots[booted].Version)})
			d.Slots.Slots[name] = Slot{}
		case sl.State == StatePending && e.Counted && e.TriesLeft == 0:
			why := sl.Failure
			if why == "" {
				why = fmt.Sprintf("no healthy boot in %d tries (kernel panic, init agent crash, hang or watchdog; no reason was recorded)", e.TriesDone)
			}
			d.Clear = append(d.Clear, name)
			d.Findings = append(d.Findings, Finding{Failed: true, Slot: name, Version: sl.Version,
				Text: fmt.Sprintf("Upgrade to version %s failed and was rolled back to version %s: %s",
					sl.Version, s.Slots[booted].Version, why)})
			d.Slots.Slots[name] = Slot{Version: sl.Version, State: StateFailed, Seq: sl.Seq, Failure: why}
		}
	}
	return d
}

// Check runs the boot-time decision on the boot partition and applies it:
// cleared slots lose their entries and files, an interrupted commit is
// finished, slots.json is rewritten when anything changed.
func Check(b Boot, bootedEntry string) (Decision, error) {
	s, err := ReadSlots(b)
	if err != nil {
		return Decision{}, err
	}
	entries, err := b.List(EntriesDir)
	if err != nil {
		return Decision{}, err
	}
	d := Decide(s, entries, bootedEntry)
	if !d.Changed(s) {
		return d, nil
	}
	for _, slot := range d.Clear {
		if err := removeEntries(b, slot); err != nil {
			return d, err
		}
		names, err := b.List("hafw/" + slot)
		if err != nil {
			return d, err
		}
		for _, n := range names {
			if err := b.Remove(slotFile(slot, n)); err != nil {
				return d, err
			}
		}
	}
	return d, WriteSlots(b, d.Slots)
}

// Commit marks the trial slot good once this boot is healthy: its counted
// entry is renamed to the plain name (systemd-boot stops counting), then
// slots.json makes it the active slot. A power cut between the two is
// finished by the next boot's Check.
func Commit(b Boot, slot string) error {
	entries, err := b.List(EntriesDir)
	if err != nil {
		return err
	}
	for _, n := range entries {
		if e, ok := ParseEntry(n); ok && e.Slot == slot && e.Counted {
			if err := b.Rename(EntriesDir+"/"+n, EntriesDir+"/"+EntryName(slot, false, 0)); err != nil {
				return fmt.Errorf("committing slot %s: %w", slot, err)
			}
		}
	}
	s, err := ReadSlots(b)
	if err != nil {
		return err
	}
	sl := s.Slots[slot]
	sl.State, sl.Failure = StateGood, ""
	s.Slots[slot] = sl
	s.Active = slot
	return WriteSlots(b, s)
}

// RecordFailure notes why this trial boot of slot is not healthy, for the
// rollback event the other slot reports once the tries are used up.
func RecordFailure(b Boot, slot, reason string) error {
	s, err := ReadSlots(b)
	if err != nil {
		return err
	}
	sl := s.Slots[slot]
	if sl.State != StatePending {
		return fmt.Errorf("slot %s is %q, not on trial", slot, sl.State)
	}
	sl.Failure = reason
	s.Slots[slot] = sl
	return WriteSlots(b, s)
}
