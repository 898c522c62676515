package upgrade

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// Installer writes update bundles into the inactive boot slot.
type Installer struct {
	Boot Boot
	// Pub is the vendor public key bundles must be signed with.
	Pub ed25519.PublicKey
	// Policy is the running appliance: profile, version, data schema.
	Policy Policy
	// Tries is the new slot's boot counter (DefaultTries when 0).
	Tries int
	// Booted is the loader entry this boot came from (LoaderEntrySelected;
	// "" when unknown): a boot of a slot that is not committed yet may not
	// install, since the target would be the only slot known to boot.
	Booted string
	Log    *slog.Logger
}

// Progress is told how far an install is: stage "verify" (bytes of the
// bundle read; total 0 when its size is unknown, as on a block device) or
// "write" (bytes of the slot payload written).
type Progress func(stage string, done, total int64)

// Installed is what an install did.
type Installed struct {
	Slot     string   `json:"slot"`
	Version  string   `json:"version"`
	Previous string   `json:"previous"`
	Entry    string   `json:"entry"`
	Tries    int      `json:"tries"`
	Manifest Manifest `json:"manifest"`
}

// ErrBusy means the running slot is itself still on trial: an upgrade
// then would overwrite the only slot known to boot.
var ErrBusy = errors.New("the running firmware is not committed yet")

// Install verifies the bundle at path completely — signature, profile,
// version order, every digest — and only then writes it into the inactive
// slot and adds that slot's counted entry, which makes it the next boot's
// default on trial. Until that last step the slot is marked "writing" and
// has no entry, so a power cut anywhere leaves the running slot booting.
func (in Installer) Install(ctx context.Context, path string, progress Progress) (*Installed, error) {
	if in.Log == nil {
		in.Log = slog.New(slog.DiscardHandler)
	}
	if progress == nil {
		progress = func(string, int64, int64) {}
	}
	tries := in.Tries
	if tries <= 0 {
		tries = DefaultTries
	}
	slots, err := ReadSlots(in.Boot)
	if err != nil {
		return nil, err
	}
	active := slots.Active
	if b := BootedSlot(in.Booted); b != "" && b != active {
		return nil, fmt.Errorf("%w: slot %s runs on trial; wait until it is committed (or has rolled back)", ErrBusy, b)
	}
	target := Other(active)
	options, err := in.activeOptions(active)
	if err != nil {
		return nil, err
	}

	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("opening update bundle: %w", err)
	}
	total := st.Size()
	m, err := verifyWithProgress(ctx, path, in.Pub, in.Policy, func(n int64) { progress("verify", n, total) })
	if err != nil {
		return nil, err
	}
	if in.Policy.AllowDowngrade && CompareVersions(m.Version, in.Policy.Running) <= 0 {
		in.Log.Warn("installing a downgrade, as allowed", "version", m.Version, "running", in.Policy.Running)
	}
	profile := m.Profile

	// From here on the boot partition changes; target is "writing" and
	// entry-less until it is complete.
	slots.Slots[target] = Slot{State: StateWriting, Version: m.Version}
	if err := WriteSlots(in.Boot, slots); err != nil {
		return nil, err
	}
	fail := func(err error) (*Installed, error) {
		if cerr := clearSlot(in.Boot, target); cerr != nil {
			in.Log.Error("cleaning up the half-written slot", "slot", target, "err", cerr)
			return nil, errors.Join(err, cerr)
		}
		return nil, err
	}
	if err := removeEntries(in.Boot, target); err != nil {
		return fail(err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(fmt.Errorf("opening update bundle: %w", err))
	}
	defer f.Close()
	b, err := Open(f, in.Pub)
	if err != nil {
		return fail(err)
	}
	if b.Manifest.Version != m.Version || len(b.Manifest.Members) != len(m.Members) {
		return fail(fmt.Errorf("%w: the bundle changed after it was verified", ErrMalformed))
	}
	var written, payload int64
	for _, mem := range m.Members {
		payload += mem.Size
	}
	err = b.Each(func(mem Member, r io.Reader) error {
		pr := &progressReader{ctx: ctx, r: r, f: func(n int64) { progress("write", written+n, payload) }}
		if err := in.Boot.WriteFile(slotFile(target, mem.Name), pr); err != nil {
			return err
		}
		written += mem.Size
		return nil
	})
	if err != nil {
		return fail(err)
	}
	title := func(rec bool) string { return EntryTitle(profile, m.Version, target, rec) }
	seq := slots.nextSeq()
	if err := in.Boot.WriteFile(EntriesDir+"/"+EntryName(target, true, 0), bytes.NewReader(EntryText(title(true), target, seq, m.Version, options, true))); err != nil {
		return fail(err)
	}
	slots.Slots[target] = Slot{Version: m.Version, Kernel: m.Members[0].SHA256, Initrd: m.Members[1].SHA256, State: StatePending, Seq: seq}
	if err := WriteSlots(in.Boot, slots); err != nil {
		return fail(err)
	}
	entry := EntryName(target, false, tries)
	if err := in.Boot.WriteFile(EntriesDir+"/"+entry, bytes.NewReader(EntryText(title(false), target, seq, m.Version, options, false))); err != nil {
		return fail(err)
	}
	in.Log.Info("update installed", "slot", target, "version", m.Version, "entry", entry)
	return &Installed{Slot: target, Version: m.Version, Previous: slots.Slots[active].Version, Entry: entry, Tries: tries, Manifest: *m}, nil
}

// Summary is the one line an operator reads after an install.
func (r *Installed) Summary() string {
	return fmt.Sprintf("version %s installed in slot %s (entry %s, %d tries); it boots at the next reboot, and version %s comes back by itself unless it becomes healthy",
		r.Version, strings.ToUpper(r.Slot), r.Entry, r.Tries, r.Previous)
}

// activeOptions is the kernel command line of the running slot's
// committed entry, which the new slot's entries keep (labs put first-boot
// keys there).
func (in Installer) activeOptions(active string) (string, error) {
	names, err := in.Boot.List(EntriesDir)
	if err != nil {
		return "", err
	}
	for _, n := range names {
		e, ok := ParseEntry(n)
		if !ok || e.Slot != active || e.Recovery {
			continue
		}
		if e.Counted {
			return "", fmt.Errorf("%w: slot %s boots from %s; wait until it is committed (or has rolled back)", ErrBusy, active, n)
		}
		data, err := in.Boot.ReadFile(EntriesDir + "/" + n)
		if err != nil {
			return "", fmt.Errorf("reading the running slot's entry: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "options "); ok {
				return strings.TrimSpace(v), nil
			}
		}
		return "", nil
	}
	return "", fmt.Errorf("no loader entry for the running slot %s in %s", active, EntriesDir)
}

// verifyWithProgress is Verify reporting the bytes read as it goes.
func verifyWithProgress(ctx context.Context, path string, pub ed25519.PublicKey, p Policy, progress func(int64)) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening update bundle: %w", err)
	}
	defer f.Close()
	b, err := Open(&progressReader{ctx: ctx, r: f, f: progress}, pub)
	if err != nil {
		return nil, err
	}
	if err := b.Manifest.Check(p); err != nil {
		return nil, err
	}
	if err := b.Each(func(Member, io.Reader) error { return nil }); err != nil {
		return nil, err
	}
	return &b.Manifest, nil
}

type progressReader struct {
	ctx context.Context
	r   io.Reader
	n   int64
	f   func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	p.f(p.n)
	return n, err
}

func slotFile(slot, name string) string { return "hafw/" + slot + "/" + name }

// ReadSlots reads slots.json from the boot partition.
func ReadSlots(b Boot) (Slots, error) {
	data, err := b.ReadFile(SlotsFile)
	if err != nil {
		return Slots{}, fmt.Errorf("reading the boot slots: %w", err)
	}
	return ParseSlots(data)
}

// WriteSlots replaces slots.json.
func WriteSlots(b Boot, s Slots) error {
	return b.WriteFile(SlotsFile, bytes.NewReader(s.Marshal()))
}

// removeEntries deletes every loader entry of slot (normal, counted,
// recovery).
func removeEntries(b Boot, slot string) error {
	names, err := b.List(EntriesDir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if e, ok := ParseEntry(n); ok && e.Slot == slot {
			if err := b.Remove(EntriesDir + "/" + n); err != nil {
				return err
			}
		}
	}
	return nil
}

// clearSlot makes slot empty: entries first (so nothing boots it), then
// its files, then its record.
func clearSlot(b Boot, slot string) error {
	if err := removeEntries(b, slot); err != nil {
		return err
	}
	names, err := b.List("hafw/" + slot)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := b.Remove(slotFile(slot, n)); err != nil {
			return err
		}
	}
	s, err := ReadSlots(b)
	if err != nil {
		return err
	}
	s.Slots[slot] = Slot{}
	return WriteSlots(b, s)
}
