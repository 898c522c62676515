package flash

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Target is the disk (or plain file) about to be overwritten, as shown to
// the engineer before confirmation and as checked by InUse.
type Target struct {
	Path  string
	Block bool   // a block device (else a regular file)
	Name  string // kernel name, e.g. "sda" (block devices)
	Model string // from sysfs, "" when unknown
	Size  int64  // bytes; for a missing file 0
	// Devs maps the device numbers ("major:minor") of the disk and its
	// partitions to their kernel names, for matching mounts.
	Devs map[string]string
	// Holders are device-mapper/md devices built on the disk.
	Holders []string
	// Loops are loop devices whose backing file is this file.
	Loops []string
	// Parts is the disk's current GPT, nil when it has none.
	Parts []Part
	// PartsErr says why Parts is nil (no GPT, unreadable).
	PartsErr error
}

// Host is where Inspect looks at the running system; tests point it at a
// fixture tree only for the pure parts, real runs use DefaultHost.
type Host struct {
	Sys       string // sysfs root
	Mountinfo string // /proc/self/mountinfo
}

// DefaultHost is the running system.
var DefaultHost = Host{Sys: "/sys", Mountinfo: "/proc/self/mountinfo"}

// Inspect describes path: a block device (whole disk) or a regular file,
// which may not exist yet.
func (h Host) Inspect(path string) (Target, error) {
	t := Target{Path: path, Devs: map[string]string{}}
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return t, fmt.Errorf("inspecting %s: %w", path, err)
	}
	switch {
	case st.Mode().IsRegular():
		t.Size = st.Size()
		if t.Loops, err = h.loopsOf(path); err != nil {
			return t, err
		}
	case st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0:
		t.Block = true
		if err := h.inspectBlock(path, &t); err != nil {
			return t, err
		}
	default:
		return t, fmt.Errorf("%s is neither a block device nor a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return t, fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	if t.Block {
		if t.Size, err = f.Seek(0, io.SeekEnd); err != nil {
			return t, fmt.Errorf("sizing %s: %w", path, err)
		}
	}
	t.Parts, t.PartsErr = ReadGPT(f)
	return t, nil
}

func (h Host) inspectBlock(path string, t *Target) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fmt.Errorf("inspecting %s: %w", path, err)
	}
	dev := fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	sysDir, err := filepath.EvalSymlinks(filepath.Join(h.Sys, "dev", "block", dev))
	if err != nil {
		return fmt.Errorf("finding %s (%s) in sysfs: %w", path, dev, err)
	}
	if _, err := os.Stat(filepath.Join(sysDir, "partition")); err == nil {
		return fmt.Errorf("%s is a partition; give the whole disk (%s)", path, filepath.Base(filepath.Dir(sysDir)))
	}
	t.Name = filepath.Base(sysDir)
	t.Devs[dev] = t.Name
	t.Model = strings.TrimSpace(readSmall(filepath.Join(sysDir, "device", "model")))
	entries, err := os.ReadDir(sysDir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", sysDir, err)
	}
	for _, e := range entries {
		sub := filepath.Join(sysDir, e.Name())
		if _, err := os.Stat(filepath.Join(sub, "partition")); err != nil {
			continue
		}
		if d := strings.TrimSpace(readSmall(filepath.Join(sub, "dev"))); d != "" {
			t.Devs[d] = e.Name()
		}
		t.Holders = append(t.Holders, listDir(filepath.Join(sub, "holders"))...)
	}
	t.Holders = append(t.Holders, listDir(filepath.Join(sysDir, "holders"))...)
	sort.Strings(t.Holders)
	return nil
}

// loopsOf lists loop devices backed by file.
func (h Host) loopsOf(file string) ([]string, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", file, err)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	matches, err := filepath.Glob(filepath.Join(h.Sys, "block", "loop*", "loop", "backing_file"))
	if err != nil {
		return nil, fmt.Errorf("listing loop devices: %w", err)
	}
	var loops []string
	for _, m := range matches {
		if strings.TrimSpace(readSmall(m)) == abs {
			loops = append(loops, "/dev/"+filepath.Base(filepath.Dir(filepath.Dir(m))))
		}
	}
	return loops, nil
}

// Mounts reads the running system's mount table.
func (h Host) Mounts() ([]Mount, error) {
	f, err := os.Open(h.Mountinfo)
	if err != nil {
		return nil, fmt.Errorf("reading mount table: %w", err)
	}
	defer f.Close()
	return ParseMountinfo(f)
}

// ErrInUse refuses a target that something on this system is using.
var ErrInUse = errors.New("target in use")

// InUse refuses the disk that holds the running system, a disk with any
// mounted partition or a device-mapper/md holder, and a file attached to a
// loop device: overwriting any of them corrupts a live file system.
func (t Target) InUse(mounts []Mount) error {
	var uses []string
	running := false
	for _, m := range mounts {
		if name, ok := t.Devs[m.Dev]; ok {
			uses = append(uses, fmt.Sprintf("%s is mounted on %s", name, m.Point))
			running = running || m.Point == "/"
		}
	}
	for _, h := range t.Holders {
		uses = append(uses, "held by "+h)
	}
	for _, l := range t.Loops {
		uses = append(uses, "attached to "+l)
	}
	if len(uses) == 0 {
		return nil
	}
	what := "refusing"
	if running {
		what = "refusing the disk that holds the running system"
	}
	return fmt.Errorf("%w: %s %s: %s", ErrInUse, what, t.Path, strings.Join(uses, "; "))
}

func readSmall(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return string(b)
}

func listDir(p string) []string {
	es, err := os.ReadDir(p)
	if err != nil {
		return nil
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name()
	}
	return out
}
