package image

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"unicode/utf16"
)

// Sector is the logical block size of every disk we write; 512 is what
// firmware, QEMU and ESXi all accept for a boot disk.
const Sector = 512

// GPT geometry: 128 entries of 128 bytes (32 sectors), as the UEFI
// specification requires at minimum.
const (
	gptEntries     = 128
	gptEntrySize   = 128
	gptTableSector = gptEntries * gptEntrySize / Sector
)

// GUID is an EFI GUID in its on-disk (mixed-endian) byte order.
type GUID [16]byte

// ParseGUID reads the canonical text form
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" into on-disk order.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return g, fmt.Errorf("parsing GUID %q: want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
	}
	raw, err := hex.DecodeString(s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36])
	if err != nil {
		return g, fmt.Errorf("parsing GUID %q: %w", s, err)
	}
	// The first three fields are little-endian on disk.
	g[0], g[1], g[2], g[3] = raw[3], raw[2], raw[1], raw[0]
	g[4], g[5] = raw[5], raw[4]
	g[6], g[7] = raw[7], raw[6]
	copy(g[8:], raw[8:])
	return g, nil
}

// String gives the canonical text form.
func (g GUID) String() string {
	return fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15])
}

// DeriveGUID makes a version-4-shaped GUID from a seed string, so that
// identifiers are unique per profile and partition yet identical between
// two builds of the same inputs (random GUIDs would break reproducibility).
func DeriveGUID(seed string) GUID {
	sum := sha256.Sum256([]byte("hafw-guid:" + seed))
	var g GUID
	copy(g[:], sum[:16])
	g[7] = g[7]&0x0f | 0x40 // version 4 (byte 7 holds the high byte of field 3 on disk)
	g[8] = g[8]&0x3f | 0x80 // RFC 4122 variant
	return g
}

// Well-known partition type GUIDs.
var (
	TypeESP       = mustGUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")
	TypeLinuxData = mustGUID("0FC63DAF-8483-4772-8E79-3D69D8477DE4")
)

func mustGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

// Partition is one GPT entry; FirstLBA and LastLBA are inclusive.
type Partition struct {
	Type     GUID
	ID       GUID
	FirstLBA uint64
	LastLBA  uint64
	Name     string
}

// Size in bytes.
func (p Partition) Size() int64 { return int64(p.LastLBA-p.FirstLBA+1) * Sector }

// Offset in bytes from the start of the disk.
func (p Partition) Offset() int64 { return int64(p.FirstLBA) * Sector }

// GPT is a disk's partition table.
type GPT struct {
	DiskID     GUID
	DiskSize   int64 // bytes, a multiple of Sector
	Partitions []Partition
}

// ErrLayout is returned for a partition table that cannot be written.
var ErrLayout = errors.New("invalid disk layout")

// firstUsable and lastUsable bound the area partitions may occupy.
func (g GPT) firstUsable() uint64 { return 2 + gptTableSector }
func (g GPT) lastUsable() uint64 {
	return uint64(g.DiskSize/Sector) - 2 - gptTableSector
}

func (g GPT) check() error {
	if g.DiskSize%Sector != 0 || g.DiskSize < 1<<20 {
		return fmt.Errorf("%w: disk size %d is not a multiple of %d of at least 1 MiB", ErrLayout, g.DiskSize, Sector)
	}
	if len(g.Partitions) > gptEntries {
		return fmt.Errorf("%w: %d partitions, at most %d", ErrLayout, len(g.Partitions), gptEntries)
	}
	prevLast := g.firstUsable() - 1
	for i, p := range g.Partitions {
		if p.FirstLBA <= prevLast || p.LastLBA < p.FirstLBA || p.LastLBA > g.lastUsable() {
			return fmt.Errorf("%w: partition %d (%q) spans LBA %d-%d outside the free area after LBA %d (last usable %d)",
				ErrLayout, i+1, p.Name, p.FirstLBA, p.LastLBA, prevLast, g.lastUsable())
		}
		if len(utf16.Encode([]rune(p.Name))) > 36 {
			return fmt.Errorf("%w: partition name %q longer than 36 UTF-16 units", ErrLayout, p.Name)
		}
		prevLast = p.LastLBA
	}
	return nil
}

// Encode returns the primary structures (protective MBR, header, entries:
// LBA 0 to 33) and the backup structures (entries then header: the last 33
// LBAs of the disk).
func (g GPT) Encode() (primary, backup []byte, err error) {
	if err := g.check(); err != nil {
		return nil, nil, err
	}
	entries := make([]byte, gptEntries*gptEntrySize)
	for i, p := range g.Partitions {
		e := entries[i*gptEntrySize : (i+1)*gptEntrySize]
		copy(e[0:16], p.Type[:])
		copy(e[16:32], p.ID[:])
		binary.LittleEndian.PutUint64(e[32:], p.FirstLBA)
		binary.LittleEndian.PutUint64(e[40:], p.LastLBA)
		for j, u := range utf16.Encode([]rune(p.Name)) {
			binary.LittleEndian.PutUint16(e[56+2*j:], u)
		}
	}
	entriesCRC := crc32.ChecksumIEEE(entries)
	lastLBA := uint64(g.DiskSize/Sector) - 1

	header := func(current, other, entriesLBA uint64) []byte {
		h := make([]byte, Sector)
		copy(h[0:8], "EFI PART")
		binary.LittleEndian.PutUint32(h[8:], 0x00010000) // revision 1.0
		binary.LittleEndian.PutUint32(h[12:], 92)        // header size
		binary.LittleEndian.PutUint64(h[24:], current)
		binary.LittleEndian.PutUint64(h[32:], other)
		binary.LittleEndian.PutUint64(h[40:], g.firstUsable())
		binary.LittleEndian.PutUint64(h[48:], g.lastUsable())
		copy(h[56:72], g.DiskID[:])
		binary.LittleEndian.PutUint64(h[72:], entriesLBA)
		binary.LittleEndian.PutUint32(h[80:], gptEntries)
		binary.LittleEndian.PutUint32(h[84:], gptEntrySize)
		binary.LittleEndian.PutUint32(h[88:], entriesCRC)
		binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h[:92]))
		return h
	}

	// Protective MBR: one partition of type 0xEE covering the disk.
	mbr := make([]byte, Sector)
	pe := mbr[446:462]
	pe[1], pe[2], pe[3] = 0x00, 0x02, 0x00 // CHS of LBA 1
	pe[4] = 0xEE
	pe[5], pe[6], pe[7] = 0xFF, 0xFF, 0xFF
	binary.LittleEndian.PutUint32(pe[8:], 1)
	size := lastLBA
	if size > 0xFFFFFFFF {
		size = 0xFFFFFFFF
	}
	binary.LittleEndian.PutUint32(pe[12:], uint32(size))
	mbr[510], mbr[511] = 0x55, 0xAA

	var pb bytes.Buffer
	pb.Write(mbr)
	pb.Write(header(1, lastLBA, 2))
	pb.Write(entries)

	var bb bytes.Buffer
	bb.Write(entries)
	bb.Write(header(lastLBA, 1, lastLBA-gptTableSector))
	return pb.Bytes(), bb.Bytes(), nil
}
