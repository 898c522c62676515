package upgrade

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hafw/hafw/licensing/devkey"
)

// newESP lays out a boot partition as the image builder does: slot A with
// version 1.0 committed, slot B empty.
func newESP(t *testing.T) Dir {
	t.Helper()
	d := Dir(t.TempDir())
	const opts = "console=ttyS0,115200 panic=10 hafw.hostname=lab"
	files := map[string][]byte{
		LoaderConf: LoaderConfText(3),
		EntriesDir + "/" + EntryName("a", false, 0): EntryText(EntryTitle("3355", "1.0", "a", false), "a", 1, "1.0", opts, false),
		EntriesDir + "/" + EntryName("a", true, 0):  EntryText(EntryTitle("3355", "1.0", "a", true), "a", 1, "1.0", opts, true),
		SlotFile("a", KernelName):                   []byte("kernel 1.0"),
		SlotFile("a", InitrdName):                   []byte("initramfs 1.0"),
		SlotsFile:                                   Slots{Active: "a", Slots: map[string]Slot{"a": {Version: "1.0", State: StateGood, Seq: 1}, "b": {}}}.Marshal(),
	}
	for name, data := range files {
		if err := d.WriteFile(name, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// SlotFile is slotFile for the tests' readability.
func SlotFile(slot, name string) string { return slotFile(slot, name) }

func writeBundleFile(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "b"+Ext)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func installer(b Boot) Installer {
	return Installer{Boot: b, Pub: devkey.Public(), Policy: Policy{Profile: "3355", Running: "1.0", DataSchema: DataSchema}}
}

// treeHash is a digest of every file under dir with its name.
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		fmt.Fprintf(h, "%s %x\n", p, sha256.Sum256(data))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// loaderBoot models systemd-boot 252's choice (src/boot/efi/boot.c:
// config_entry_compare, config_default_entry_select and the counter bump)
// so that the entries' sort keys, versions and counters are checked
// against the rules the real loader applies; the QEMU test boots the real
// one. It returns the chosen entry's ID (its name before the bump).
func loaderBoot(t *testing.T, d Dir) string {
	t.Helper()
	conf, err := d.ReadFile(LoaderConf)
	if err != nil {
		t.Fatal(err)
	}
	pattern := ""
	for _, l := range strings.Split(string(conf), "\n") {
		if v, ok := strings.CutPrefix(l, "default "); ok {
			pattern = v
		}
	}
	type ent struct {
		id, key, version string
		e                Entry
	}
	names, _ := d.List(EntriesDir)
	var ents []ent
	for _, n := range names {
		if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".conf") {
			continue
		}
		data, _ := d.ReadFile(EntriesDir + "/" + n)
		x := ent{id: strings.ToLower(n)}
		for _, l := range strings.Split(string(data), "\n") {
			k, v, _ := strings.Cut(l, " ")
			switch k {
			case "sort-key":
				x.key = v
			case "version":
				x.version = v
			}
		}
		x.e, _ = ParseEntry(n)
		ents = append(ents, x)
	}
	bad := func(x ent) bool { return x.e.Counted && x.e.TriesLeft == 0 }
	sort.SliceStable(ents, func(i, j int) bool {
		a, b := ents[i], ents[j]
		if bad(a) != bad(b) {
			return !bad(a)
		}
		if a.key != b.key {
			return a.key < b.key
		}
		if c := CompareVersions(a.version, b.version); c != 0 {
			return c > 0
		}
		return CompareVersions(a.id, b.id) > 0
	})
	for _, x := range ents {
		if ok, _ := filepath.Match(pattern, x.id); !ok {
			continue
		}
		if x.e.Counted {
			next := fmt.Sprintf("hafw-%s+%d-%d.conf", x.e.Slot, max(x.e.TriesLeft-1, 0), x.e.TriesDone+1)
			if err := d.Rename(EntriesDir+"/"+x.id, EntriesDir+"/"+next); err != nil {
				t.Fatal(err)
			}
		}
		return x.id
	}
	t.Fatalf("no entry matches %q among %v", pattern, names)
	return ""
}

func TestInstallCommit(t *testing.T) {
	d := newESP(t)
	path := writeBundleFile(t, testBundle(t, "3355", "2.0", devkey.Private()))
	var stages []string
	res, err := installer(d).Install(context.Background(), path, func(stage string, done, total int64) {
		if len(stages) == 0 || stages[len(stages)-1] != stage {
			stages = append(stages, stage)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Slot != "b" || res.Entry != "hafw-b+3.conf" || res.Previous != "1.0" || strings.Join(stages, ",") != "verify,write" {
		t.Fatalf("installed %+v, progress stages %v", res, stages)
	}
	if got, _ := d.ReadFile(SlotFile("b", InitrdName)); string(got) != "initramfs 2.0" {
		t.Fatalf("slot b initramfs %q", got)
	}
	entry, _ := d.ReadFile(EntriesDir + "/hafw-b+3.conf")
	if !strings.Contains(string(entry), "options console=ttyS0,115200 panic=10 hafw.hostname=lab\n") || !strings.Contains(string(entry), "version 2-2.0\n") {
		t.Fatalf("new entry does not keep the running command line or sort first:\n%s", entry)
	}
	booted := loaderBoot(t, d)
	if booted != "hafw-b+3.conf" {
		t.Fatalf("loader booted %s, want the new slot on trial", booted)
	}
	dec, err := Check(d, booted)
	if err != nil || dec.Trial != "b" || len(dec.Findings) != 0 {
		t.Fatalf("check on the trial boot: %+v, %v", dec, err)
	}
	// Recovery mode of the slot on trial neither tries nor commits it.
	if rec := Decide(mustSlots(t, d), mustList(t, d), "hafw-b-recovery.conf"); rec.Trial != "" || rec.Commit != "" || rec.Slots.Slots["b"].State != StatePending {
		t.Fatalf("recovery boot of the slot on trial: %+v", rec)
	}
	// A second upgrade while on trial is refused: it would overwrite the
	// only slot known to boot.
	onTrial := installer(d)
	onTrial.Booted = booted
	if _, err := onTrial.Install(context.Background(), path, nil); !errors.Is(err, ErrBusy) {
		t.Fatalf("install during a trial: %v", err)
	}
	if err := Commit(d, "b"); err != nil {
		t.Fatal(err)
	}
	s, _ := ReadSlots(d)
	if s.Active != "b" || s.Slots["b"].State != StateGood || s.Slots["a"].State != StateGood {
		t.Fatalf("after commit: %+v", s)
	}
	// The committed slot stays the default; the old one is the fallback.
	for i := 0; i < 2; i++ {
		if got := loaderBoot(t, d); got != "hafw-b.conf" {
			t.Fatalf("after commit the loader boots %s", got)
		}
	}
	// The next upgrade goes to slot A, and sorts first again.
	inB := installer(d)
	inB.Policy.Running = "2.0"
	if res, err := inB.Install(context.Background(), writeBundleFile(t, testBundle(t, "3355", "3.0", devkey.Private())), nil); err != nil || res.Slot != "a" {
		t.Fatalf("third version: %+v %v", res, err)
	}
	if got := loaderBoot(t, d); got != "hafw-a+3.conf" {
		t.Fatalf("loader boots %s after the third install", got)
	}
}

func TestInstallRollback(t *testing.T) {
	d := newESP(t)
	if _, err := installer(d).Install(context.Background(), writeBundleFile(t, testBundle(t, "3355", "2.0", devkey.Private())), nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < DefaultTries; i++ {
		booted := loaderBoot(t, d)
		if BootedSlot(booted) != "b" {
			t.Fatalf("try %d booted %s", i+1, booted)
		}
		dec, err := Check(d, booted)
		if err != nil || dec.Trial != "b" {
			t.Fatalf("try %d: %+v %v", i+1, dec, err)
		}
		if i == 1 {
			if err := RecordFailure(d, "b", "hmd did not report ready within 1m0s"); err != nil {
				t.Fatal(err)
			}
		}
	}
	booted := loaderBoot(t, d)
	if booted != "hafw-a.conf" {
		t.Fatalf("after %d failed tries the loader boots %s, want slot A", DefaultTries, booted)
	}
	dec, err := Check(d, booted)
	if err != nil || len(dec.Findings) != 1 || !dec.Findings[0].Failed || dec.Findings[0].Version != "2.0" ||
		!strings.Contains(dec.Findings[0].Text, "Upgrade to version 2.0 failed and was rolled back to version 1.0: hmd did not report ready") {
		t.Fatalf("rollback finding: %+v %v", dec, err)
	}
	s, _ := ReadSlots(d)
	if s.Active != "a" || s.Slots["b"].State != StateFailed || s.Slots["b"].Version != "2.0" {
		t.Fatalf("slots after rollback: %+v", s)
	}
	if names, _ := d.List(EntriesDir); strings.Contains(strings.Join(names, " "), "hafw-b") {
		t.Fatalf("failed slot keeps entries: %v", names)
	}
	// Reported once: the next boot finds nothing new.
	if dec, err := Check(d, loaderBoot(t, d)); err != nil || len(dec.Findings) != 0 {
		t.Fatalf("second boot after rollback: %+v %v", dec, err)
	}
}

// TestInstallRefusedWritesNothing: a bad bundle leaves the boot partition
// byte for byte as it was.
func TestInstallRefusedWritesNothing(t *testing.T) {
	good := testBundle(t, "3355", "2.0", devkey.Private())
	tampered := bytes.Clone(good)
	tampered[bytes.Index(tampered, []byte("kernel 2.0"))] ^= 1
	for name, c := range map[string]struct {
		data []byte
		want error
	}{
		"tampered":      {tampered, ErrDigest},
		"wrong profile": {testBundle(t, "VA-Low", "2.0", devkey.Private()), ErrWrongProfile},
		"older":         {testBundle(t, "3355", "0.5", devkey.Private()), ErrVersion},
		"truncated":     {good[:len(good)/2], ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			d := newESP(t)
			before := treeHash(t, string(d))
			_, err := installer(d).Install(context.Background(), writeBundleFile(t, c.data), nil)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if after := treeHash(t, string(d)); after != before {
				t.Fatal("the boot partition changed although the bundle was refused")
			}
		})
	}
}

// cutBoot is a Boot whose power fails after n operations: that operation
// and every later one fail without touching the disk, as on a real cut
// (the installer's own cleanup cannot run either).
type cutBoot struct {
	Dir
	n, ops int
}

var errPowerCut = errors.New("power cut")

func (c *cutBoot) dead() bool { c.ops++; return c.ops > c.n }

func (c *cutBoot) WriteFile(name string, r io.Reader) error {
	if c.dead() {
		// A cut mid-write leaves the temporary file behind.
		os.WriteFile(c.path(filepath.Dir(name)+"/."+filepath.Base(name)+".part"), []byte("half"), 0o644)
		return errPowerCut
	}
	return c.Dir.WriteFile(name, r)
}
func (c *cutBoot) Rename(o, n string) error {
	if c.dead() {
		return errPowerCut
	}
	return c.Dir.Rename(o, n)
}
func (c *cutBoot) Remove(name string) error {
	if c.dead() {
		return errPowerCut
	}
	return c.Dir.Remove(name)
}

// TestInstallPowerCut cuts the power after every possible number of
// writes: the next boot always comes up (slot A, or slot B on trial when
// the install had finished), and a half-written slot is marked empty.
func TestInstallPowerCut(t *testing.T) {
	path := writeBundleFile(t, testBundle(t, "3355", "2.0", devkey.Private()))
	complete := false
	for n := 0; !complete; n++ {
		d := newESP(t)
		_, err := installer(&cutBoot{Dir: d, n: n}).Install(context.Background(), path, nil)
		complete = err == nil
		booted := loaderBoot(t, d)
		dec, cerr := Check(d, booted)
		if cerr != nil {
			t.Fatalf("cut after %d writes: boot check: %v", n, cerr)
		}
		s, _ := ReadSlots(d)
		if complete {
			if booted != "hafw-b+3.conf" || dec.Trial != "b" {
				t.Fatalf("finished install boots %s (%+v)", booted, dec)
			}
			break
		}
		if booted != "hafw-a.conf" {
			t.Fatalf("cut after %d writes: the loader boots %s", n, booted)
		}
		if b := s.Slots["b"]; b.State != StateEmpty || b.Version != "" {
			t.Fatalf("cut after %d writes: slot b is %+v, want empty", n, b)
		}
		if n > 0 && (len(dec.Findings) != 1 || !strings.Contains(dec.Findings[0].Text, "interrupted")) {
			t.Fatalf("cut after %d writes: findings %+v", n, dec.Findings)
		}
		if files, _ := d.List("hafw/b"); len(files) != 0 {
			t.Fatalf("cut after %d writes: slot b keeps %v", n, files)
		}
	}
}

func TestParseEntry(t *testing.T) {
	for name, want := range map[string]Entry{
		"hafw-a.conf":          {Slot: "a"},
		"hafw-b+3.conf":        {Slot: "b", Counted: true, TriesLeft: 3},
		"hafw-b+0-3.conf":      {Slot: "b", Counted: true, TriesDone: 3},
		"hafw-a-recovery.conf": {Slot: "a", Recovery: true},
	} {
		if got, ok := ParseEntry(name); !ok || got != want {
			t.Errorf("ParseEntry(%q) = %+v, %v", name, got, ok)
		}
	}
	for _, bad := range []string{"hafw-c.conf", "hafw-a", "debian.conf", "hafw-a+x.conf", "hafw-a+-1.conf", ".hafw-b+3.conf.part", "hafw-a-recovery+1.conf"} {
		if e, ok := ParseEntry(bad); ok {
			t.Errorf("ParseEntry(%q) = %+v, want not a hafw entry", bad, e)
		}
	}
}

func mustSlots(t *testing.T, b Boot) Slots {
	t.Helper()
	s, err := ReadSlots(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustList(t *testing.T, b Boot) []string {
	t.Helper()
	l, err := b.List(EntriesDir)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The other slot can be booted once only when it has booted well; the
// engineer is told why not otherwise.
func TestOtherSlotEntry(t *testing.T) {
	entries := []string{"hafw-a.conf", "hafw-a-recovery.conf", "hafw-b.conf", "hafw-b-recovery.conf"}
	good := Slots{Active: "a", Slots: map[string]Slot{"a": {Version: "2", State: StateGood}, "b": {Version: "1", State: StateGood}}}
	with := func(state, failure string) Slots {
		s := Slots{Active: "a", Slots: map[string]Slot{"a": good.Slots["a"], "b": {Version: "1", State: state, Failure: failure}}}
		return s
	}
	for _, c := range []struct {
		name     string
		s        Slots
		entries  []string
		booted   string
		recovery bool
		want     string
		err      string
	}{
		{"the other slot", good, entries, "hafw-a.conf", false, "hafw-b.conf", ""},
		{"its recovery entry", good, entries, "hafw-a.conf", true, "hafw-b-recovery.conf", ""},
		{"booted from b's recovery entry", good, entries, "hafw-b-recovery.conf", false, "hafw-a.conf", ""},
		{"no EFI variables: slots.json's active slot", good, entries, "", false, "hafw-b.conf", ""},
		{"empty", with(StateEmpty, ""), entries, "hafw-a.conf", false, "", "slot B holds no firmware"},
		{"failed", with(StateFailed, "hmd did not come up"), entries, "hafw-a.conf", false, "", "failed its trial (hmd did not come up)"},
		{"pending", with(StatePending, ""), entries, "hafw-a.conf", false, "", "pending its first boot"},
		{"writing", with(StateWriting, ""), entries, "hafw-a.conf", false, "", "was being written"},
		{"entry missing", good, entries[:2], "hafw-a.conf", false, "", "no loader entry hafw-b.conf"},
	} {
		got, err := otherSlotEntry(c.s, c.entries, c.booted, c.recovery)
		if got != c.want || (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %q, %v; want %q, an error with %q", c.name, got, err, c.want, c.err)
		}
	}
}
