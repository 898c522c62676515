package initagent

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ext4 superblock layout (the superblock starts 1024 bytes into the device).
const (
	superblockOffset = 1024
	superblockSize   = 1024
	sbMagicOffset    = 0x38
	sbLabelOffset    = 0x78
	sbLabelSize      = 16
	ext2Magic        = 0xEF53
	// blankProbeSize is how much of a device must be zeros for it to count
	// as never formatted; it covers the signatures of common filesystems,
	// LVM and LUKS (btrfs' superblock sits at 64 KiB).
	blankProbeSize = 128 << 10
)

// Superblock is what the init agent needs to know about a block device's
// start: whether it carries an ext2/3/4 filesystem and its label, or is
// entirely blank (never formatted).
type Superblock struct {
	Ext   bool
	Label string
	Blank bool
}

// ParseSuperblock reads the ext superblock from the start of a device
// (at least 2048 bytes; up to blankProbeSize are checked for blankness).
// Shorter input is an error; it is not guessed at.
func ParseSuperblock(head []byte) (Superblock, error) {
	if len(head) < superblockOffset+superblockSize {
		return Superblock{}, fmt.Errorf("device head is %d bytes, need %d", len(head), superblockOffset+superblockSize)
	}
	sb := head[superblockOffset : superblockOffset+superblockSize]
	if binary.LittleEndian.Uint16(sb[sbMagicOffset:]) == ext2Magic {
		label := sb[sbLabelOffset : sbLabelOffset+sbLabelSize]
		if i := bytes.IndexByte(label, 0); i >= 0 {
			label = label[:i]
		}
		return Superblock{Ext: true, Label: string(label)}, nil
	}
	return Superblock{Blank: allZero(head)}, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// BlockDevice is a block device or partition as sysfs lists it.
type BlockDevice struct {
	Name string // kernel name, e.g. vda2
	// PartName is the GPT partition name (PARTNAME in uevent), if any; the
	// image builder names the data partition like its filesystem label, which
	// finds it while it is still blank.
	PartName string
}

// ErrNoDataPartition means no partition carries the data label or name.
var ErrNoDataPartition = errors.New("no data partition found")

// DataPartition is where the data partition is and whether it still needs
// a filesystem.
type DataPartition struct {
	Device string // /dev/NAME
	Blank  bool
}

// Disks finds block devices under a sysfs root and reads their heads
// through a /dev root; both are parameters so tests can use a temp dir.
type Disks struct {
	SysRoot string // /sys
	DevRoot string // /dev
}

// List returns every block device and partition in /sys/class/block.
func (d Disks) List() ([]BlockDevice, error) {
	entries, err := os.ReadDir(filepath.Join(d.SysRoot, "class", "block"))
	if err != nil {
		return nil, fmt.Errorf("list block devices: %w", err)
	}
	var out []BlockDevice
	for _, e := range entries {
		bd := BlockDevice{Name: e.Name()}
		if ue, err := os.ReadFile(filepath.Join(d.SysRoot, "class", "block", e.Name(), "uevent")); err == nil {
			bd.PartName = ueventValue(string(ue), "PARTNAME")
		}
		out = append(out, bd)
	}
	return out, nil
}

func ueventValue(uevent, key string) string {
	for _, line := range strings.Split(uevent, "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return v
		}
	}
	return ""
}

// Find locates the partition whose ext filesystem has label, or else a
// blank partition whose GPT name is label (first boot: the builder left it
// unformatted). A partition named label that holds something else is
// never reported as blank, so nothing is formatted over.
func (d Disks) Find(label string) (DataPartition, error) {
	devs, err := d.List()
	if err != nil {
		return DataPartition{}, err
	}
	var blank *DataPartition
	for _, bd := range devs {
		if strings.HasPrefix(bd.Name, "loop") || strings.HasPrefix(bd.Name, "ram") {
			continue
		}
		dev := filepath.Join(d.DevRoot, bd.Name)
		sb, err := readSuperblock(dev)
		if err != nil {
			continue // unreadable (empty CD-ROM drive, …): not ours
		}
		if sb.Ext && sb.Label == label {
			return DataPartition{Device: dev}, nil
		}
		if bd.PartName == label && sb.Blank && blank == nil {
			blank = &DataPartition{Device: dev, Blank: true}
		}
	}
	if blank != nil {
		return *blank, nil
	}
	return DataPartition{}, fmt.Errorf("%w: no ext4 filesystem labelled %q and no blank GPT partition named so", ErrNoDataPartition, label)
}

func readSuperblock(dev string) (Superblock, error) {
	f, err := os.Open(dev)
	if err != nil {
		return Superblock{}, fmt.Errorf("open %s: %w", dev, err)
	}
	defer f.Close()
	head := make([]byte, blankProbeSize)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return Superblock{}, fmt.Errorf("read %s: %w", dev, err)
	}
	return ParseSuperblock(head[:n])
}

// PartitionNamed is the device of the partition whose GPT name is name.
func (d Disks) PartitionNamed(name string) (string, error) {
	devs, err := d.List()
	if err != nil {
		return "", err
	}
	for _, bd := range devs {
		if bd.PartName == name {
			return filepath.Join(d.DevRoot, bd.Name), nil
		}
	}
	return "", fmt.Errorf("no partition named %q", name)
}
