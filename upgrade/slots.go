package upgrade

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The boot partition (ESP) layout this package owns:
//
//	loader/loader.conf               default hafw-*  (never rewritten)
//	loader/entries/hafw-a.conf       a committed slot's entry
//	loader/entries/hafw-b+3.conf     a slot on trial: 3 tries left (systemd-boot
//	                                 renames it hafw-b+2-1.conf, … hafw-b+0-3.conf)
//	loader/entries/hafw-a-recovery.conf
//	hafw/a/vmlinuz, hafw/a/initrd.zst
//	hafw/slots.json                  SlotsFile: the slots' states
//
// How systemd-boot (252) picks the entry, and why the default never has to
// be rewritten: it sorts the entries, putting those with no tries left
// (+0-N) last; entries that have a sort-key are ordered by it, then by
// version, newest first. Every normal entry carries "sort-key hafw" and
// "version <seq>-<firmware version>", seq being the slot's install
// sequence number, and recovery entries "sort-key hafw-recovery", which
// sorts after "hafw". loader.conf's "default hafw-*" then selects the
// first match in that order: the most recently installed slot while it
// has tries left or is committed, and the other slot once its tries are
// used up. Switching slots is therefore the creation of one file (written
// aside, fsynced and renamed into place), and falling back needs no writer
// at all.
const (
	EntriesDir   = "loader/entries"
	LoaderConf   = "loader/loader.conf"
	SlotsFile    = "hafw/slots.json"
	DefaultTries = 3
	// EntryPattern is loader.conf's default: every hafw entry, the first
	// in systemd-boot's order winning.
	EntryPattern = "hafw-*"
	sortKey      = "hafw"
	recoveryKey  = "hafw-recovery"
)

// SlotNames are the two boot slots.
var SlotNames = []string{"a", "b"}

// Slot states in slots.json.
const (
	StateEmpty   = ""        // nothing (or a half-written slot, cleaned up)
	StateWriting = "writing" // the installer is writing it: never bootable
	StatePending = "pending" // written, its counted entry exists: on trial
	StateGood    = "good"    // committed
	StateFailed  = "failed"  // its trial ran out of tries; entries removed
)

// Slots is hafw/slots.json.
type Slots struct {
	// Active is the slot running now, the last one committed.
	Active string          `json:"active"`
	Slots  map[string]Slot `json:"slots"`
}

// Slot is one boot slot's record; an empty Version means empty.
type Slot struct {
	Version string `json:"version,omitempty"`
	Kernel  string `json:"kernel_sha256,omitempty"`
	Initrd  string `json:"initrd_sha256,omitempty"`
	State   string `json:"state,omitempty"`
	// Seq orders installs: the newest slot's entry sorts first.
	Seq int `json:"seq,omitempty"`
	// Failure says why the slot's trial failed, as far as it is known.
	Failure string `json:"failure,omitempty"`
}

// Other is the slot that is not s.
func Other(s string) string {
	if s == "a" {
		return "b"
	}
	return "a"
}

// ParseSlots reads slots.json. A slot with a version and no state is a
// committed one (the builder's first images wrote no states).
func ParseSlots(data []byte) (Slots, error) {
	var s Slots
	if err := json.Unmarshal(data, &s); err != nil {
		return Slots{}, fmt.Errorf("%s: %w", SlotsFile, err)
	}
	if !slices.Contains(SlotNames, s.Active) {
		return Slots{}, fmt.Errorf("%s: active slot %q is not a or b", SlotsFile, s.Active)
	}
	if s.Slots == nil {
		s.Slots = map[string]Slot{}
	}
	for name, sl := range s.Slots {
		if !slices.Contains(SlotNames, name) {
			return Slots{}, fmt.Errorf("%s: unknown slot %q", SlotsFile, name)
		}
		if sl.State == StateEmpty && sl.Version != "" {
			sl.State = StateGood
			s.Slots[name] = sl
		}
	}
	return s, nil
}

// Marshal renders slots.json.
func (s Slots) Marshal() []byte {
	b, _ := json.MarshalIndent(s, "", "  ") // plain strings and ints: cannot fail
	return append(b, '\n')
}

// nextSeq is the sequence number of the next install.
func (s Slots) nextSeq() int {
	n := 0
	for _, sl := range s.Slots {
		n = max(n, sl.Seq)
	}
	return n + 1
}

// Entry is a loader entry file name taken apart.
type Entry struct {
	Slot     string
	Recovery bool
	// Counted entries are on trial: TriesLeft and TriesDone are their
	// boot counter ("+LEFT-DONE").
	Counted              bool
	TriesLeft, TriesDone int
}

// ParseEntry takes apart a hafw loader entry name; ok is false for any
// other file.
func ParseEntry(name string) (e Entry, ok bool) {
	base, found := strings.CutSuffix(name, ".conf")
	if !found {
		return Entry{}, false
	}
	base, found = strings.CutPrefix(base, "hafw-")
	if !found {
		return Entry{}, false
	}
	if b, c, found := strings.Cut(base, "+"); found {
		left, done, hasDone := strings.Cut(c, "-")
		l, err := strconv.Atoi(left)
		if err != nil || l < 0 || strings.HasPrefix(left, "+") {
			return Entry{}, false
		}
		d := 0
		if hasDone {
			if d, err = strconv.Atoi(done); err != nil || d < 0 || strings.HasPrefix(done, "+") {
				return Entry{}, false
			}
		}
		base, e = b, Entry{Counted: true, TriesLeft: l, TriesDone: d}
	}
	if b, found := strings.CutSuffix(base, "-recovery"); found && !e.Counted {
		base, e.Recovery = b, true
	}
	if !slices.Contains(SlotNames, base) {
		return Entry{}, false
	}
	e.Slot = base
	return e, true
}

// EntryName is the loader entry file of a slot: committed, recovery, or
// on trial with tries left.
func EntryName(slot string, recovery bool, tries int) string {
	switch {
	case recovery:
		return "hafw-" + slot + "-recovery.conf"
	case tries > 0:
		return fmt.Sprintf("hafw-%s+%d.conf", slot, tries)
	}
	return "hafw-" + slot + ".conf"
}

// EntryText renders a slot's Type #1 loader entry (see the layout comment
// for why sort-key and version look as they do).
func EntryText(title, slot string, seq int, version, cmdline string, recovery bool) []byte {
	key := sortKey
	if recovery {
		key, cmdline = recoveryKey, strings.TrimSpace(cmdline+" hafw.recovery")
	}
	return fmt.Appendf(nil, "title %s\nsort-key %s\nversion %d-%s\nlinux /hafw/%s/%s\ninitrd /hafw/%s/%s\noptions %s\n",
		title, key, seq, version, slot, KernelName, slot, InitrdName, strings.TrimSpace(cmdline))
}

// LoaderConfText is loader/loader.conf: the default is the pattern, so
// that boot counting alone decides between the slots.
func LoaderConfText(timeout int) []byte {
	return fmt.Appendf(nil, "default %s\ntimeout %d\neditor no\nauto-entries no\nauto-firmware no\n", EntryPattern, timeout)
}

// EntryTitle is a slot entry's menu title.
func EntryTitle(profile, version, slot string, recovery bool) string {
	what := ""
	if recovery {
		what = " recovery"
	}
	return fmt.Sprintf("hafw %s %s%s (slot %s)", profile, version, what, strings.ToUpper(slot))
}
