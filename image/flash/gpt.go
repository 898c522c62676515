package flash

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf16"
)

// sector is the logical block size the image builder writes (image.Sector).
const sector = 512

// Part is one partition found in a disk's GPT, in bytes.
type Part struct {
	Index  int // 1-based entry number
	Name   string
	Offset int64
	Size   int64
}

// ErrNoGPT means the disk or image carries no valid GPT header.
var ErrNoGPT = errors.New("no valid GPT")

// ReadGPT reads the primary partition table of a disk. It checks the header
// signature and both CRCs, so a half-written or foreign table is reported as
// such instead of being trusted for --keep-data. Pure: any io.ReaderAt.
func ReadGPT(r io.ReaderAt) ([]Part, error) {
	h := make([]byte, sector)
	if _, err := r.ReadAt(h, sector); err != nil {
		return nil, fmt.Errorf("%w: reading header: %w", ErrNoGPT, err)
	}
	if string(h[0:8]) != "EFI PART" {
		return nil, fmt.Errorf("%w: no EFI PART signature at LBA 1", ErrNoGPT)
	}
	hsize := binary.LittleEndian.Uint32(h[12:])
	if hsize < 92 || hsize > sector {
		return nil, fmt.Errorf("%w: header size %d", ErrNoGPT, hsize)
	}
	want := binary.LittleEndian.Uint32(h[16:])
	hc := bytes.Clone(h[:hsize])
	binary.LittleEndian.PutUint32(hc[16:], 0)
	if crc32.ChecksumIEEE(hc) != want {
		return nil, fmt.Errorf("%w: header CRC mismatch", ErrNoGPT)
	}
	entriesLBA := binary.LittleEndian.Uint64(h[72:])
	n := binary.LittleEndian.Uint32(h[80:])
	esize := binary.LittleEndian.Uint32(h[84:])
	if esize < 128 || esize%8 != 0 || n == 0 || uint64(n)*uint64(esize) > 1<<20 {
		return nil, fmt.Errorf("%w: %d entries of %d bytes", ErrNoGPT, n, esize)
	}
	entries := make([]byte, int(n)*int(esize))
	if _, err := r.ReadAt(entries, int64(entriesLBA)*sector); err != nil {
		return nil, fmt.Errorf("%w: reading entries: %w", ErrNoGPT, err)
	}
	if crc32.ChecksumIEEE(entries) != binary.LittleEndian.Uint32(h[88:]) {
		return nil, fmt.Errorf("%w: partition entries CRC mismatch", ErrNoGPT)
	}
	var parts []Part
	for i := 0; i < int(n); i++ {
		e := entries[i*int(esize) : (i+1)*int(esize)]
		if bytes.Equal(e[0:16], make([]byte, 16)) {
			continue
		}
		first := binary.LittleEndian.Uint64(e[32:])
		last := binary.LittleEndian.Uint64(e[40:])
		if last < first || last > 1<<54 {
			return nil, fmt.Errorf("%w: entry %d spans LBA %d-%d", ErrNoGPT, i+1, first, last)
		}
		u := make([]uint16, 0, 36)
		for j := 56; j+1 < 128; j += 2 {
			c := binary.LittleEndian.Uint16(e[j:])
			if c == 0 {
				break
			}
			u = append(u, c)
		}
		parts = append(parts, Part{Index: i + 1, Name: string(utf16.Decode(u)),
			Offset: int64(first) * sector, Size: int64(last-first+1) * sector})
	}
	return parts, nil
}

// findPart returns the partition named name.
func findPart(parts []Part, name string) (Part, bool) {
	for _, p := range parts {
		if p.Name == name {
			return p, true
		}
	}
	return Part{}, false
}
