package image

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
)

// streamOptimized VMDK constants (VMware Virtual Disk Format 1.1, section
// "Stream-Optimized Compressed Sparse Extents").
const (
	vmdkMagic      = 0x564d444b // "KDMV"
	vmdkGrain      = 128        // sectors per grain (64 KiB)
	vmdkGTEs       = 512        // entries per grain table
	vmdkOverhead   = 128        // sectors before the first grain: header + descriptor
	vmdkFlags      = 1 | 1<<16 | 1<<17
	vmdkGDAtEnd    = 0xFFFFFFFFFFFFFFFF
	markerEOS      = 0
	markerGT       = 1
	markerGD       = 2
	markerFooter   = 3
	vmdkDescSector = 1
	vmdkDescSize   = 20 // sectors reserved for the embedded descriptor
)

// VMDKInfo names the extent and identifies the disk in its descriptor.
type VMDKInfo struct {
	FileName string // the extent's own file name, as in the OVF
	CID      uint32 // content ID; derive it from the build, never random
}

// Extent is a byte range of the source disk that may hold data; everything
// outside the extents is zero. A sparse file's data extents let a 150 GB
// disk with 100 MB of content be converted without reading the holes.
type Extent struct{ Off, Len int64 }

// WriteStreamOptimized writes src (size bytes, a multiple of 64 KiB is not
// required) as a streamOptimized VMDK: deflate-compressed grains in disk
// order, then grain tables, grain directory, footer and end-of-stream
// marker. Zero grains are left out. The output is a pure function of the
// input bytes, info and the Go version's deflate, so builds reproduce.
func WriteStreamOptimized(out io.Writer, src io.ReaderAt, size int64, extents []Extent, info VMDKInfo) error {
	if size <= 0 || size%Sector != 0 {
		return fmt.Errorf("writing VMDK: disk size %d is not a positive multiple of %d", size, Sector)
	}
	capacity := uint64(size / Sector)
	numGrains := (capacity + vmdkGrain - 1) / vmdkGrain
	numGTs := (numGrains + vmdkGTEs - 1) / vmdkGTEs
	gd := make([]uint32, numGTs)
	gts := map[uint64][]uint32{} // table index → entries (only tables with grains)

	w := &countingWriter{w: bufio.NewWriterSize(out, 1<<20)}
	desc := vmdkDescriptor(info, capacity)
	if len(desc) > vmdkDescSize*Sector {
		return fmt.Errorf("writing VMDK: descriptor of %d bytes exceeds %d", len(desc), vmdkDescSize*Sector)
	}
	head := make([]byte, vmdkOverhead*Sector)
	copy(head, vmdkHeader(capacity, vmdkGDAtEnd))
	copy(head[vmdkDescSector*Sector:], desc)
	w.Write(head)

	grain := make([]byte, vmdkGrain*Sector)
	var zbuf bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&zbuf, zlib.DefaultCompression)
	lastGrain := int64(-1)
	for _, ext := range extents {
		first := ext.Off / (vmdkGrain * Sector)
		last := (ext.Off + ext.Len - 1) / (vmdkGrain * Sector)
		for gi := first; gi <= last && ext.Len > 0; gi++ {
			if gi <= lastGrain {
				continue // grain shared with the previous extent, already written
			}
			lastGrain = gi
			off := gi * vmdkGrain * Sector
			n := int64(len(grain))
			if off+n > size {
				n = size - off
			}
			clear(grain)
			if _, err := src.ReadAt(grain[:n], off); err != nil && err != io.EOF {
				return fmt.Errorf("writing VMDK: reading disk at %d: %w", off, err)
			}
			if allZero(grain[:n]) {
				continue
			}
			zbuf.Reset()
			zw.Reset(&zbuf)
			zw.Write(grain[:n])
			if err := zw.Close(); err != nil {
				return fmt.Errorf("writing VMDK: compressing grain: %w", err)
			}
			sector := w.n / Sector
			var m [12]byte
			binary.LittleEndian.PutUint64(m[0:], uint64(gi)*vmdkGrain)
			binary.LittleEndian.PutUint32(m[8:], uint32(zbuf.Len()))
			w.Write(m[:])
			w.Write(zbuf.Bytes())
			w.pad()
			t := uint64(gi) / vmdkGTEs
			if gts[t] == nil {
				gts[t] = make([]uint32, vmdkGTEs)
			}
			gts[t][uint64(gi)%vmdkGTEs] = uint32(sector)
		}
	}
	// Grain tables in table order, each behind its marker.
	for t := uint64(0); t < numGTs; t++ {
		entries := gts[t]
		if entries == nil {
			continue
		}
		w.marker(vmdkGTEs*4/Sector, markerGT)
		gd[t] = uint32(w.n / Sector)
		binary.Write(w, binary.LittleEndian, entries)
		w.pad()
	}
	gdSectors := (uint64(len(gd))*4 + Sector - 1) / Sector
	w.marker(gdSectors, markerGD)
	gdOffset := uint64(w.n / Sector)
	binary.Write(w, binary.LittleEndian, gd)
	w.pad()
	w.marker(1, markerFooter)
	w.Write(vmdkHeader(capacity, gdOffset))
	w.marker(0, markerEOS)
	if w.err != nil {
		return fmt.Errorf("writing VMDK: %w", w.err)
	}
	if err := w.w.(*bufio.Writer).Flush(); err != nil {
		return fmt.Errorf("writing VMDK: %w", err)
	}
	return nil
}

func vmdkHeader(capacity, gdOffset uint64) []byte {
	h := make([]byte, Sector)
	le := binary.LittleEndian
	le.PutUint32(h[0:], vmdkMagic)
	le.PutUint32(h[4:], 3) // version 3: streamOptimized
	le.PutUint32(h[8:], vmdkFlags)
	le.PutUint64(h[12:], capacity)
	le.PutUint64(h[20:], vmdkGrain)
	le.PutUint64(h[28:], vmdkDescSector)
	le.PutUint64(h[36:], vmdkDescSize)
	le.PutUint32(h[44:], vmdkGTEs)
	le.PutUint64(h[48:], 0) // no redundant grain directory
	le.PutUint64(h[56:], gdOffset)
	le.PutUint64(h[64:], vmdkOverhead)
	h[72] = 0 // clean
	h[73], h[74], h[75], h[76] = '\n', ' ', '\r', '\n'
	le.PutUint16(h[77:], 1) // deflate
	return h
}

func vmdkDescriptor(info VMDKInfo, capacity uint64) []byte {
	cyl := capacity / (255 * 63)
	if cyl > 65535 {
		cyl = 65535
	}
	return fmt.Appendf(nil, `# Disk DescriptorFile
version=1
CID=%08x
parentCID=ffffffff
createType="streamOptimized"

# Extent description
RW %d SPARSE "%s"

# The Disk Data Base
#DDB

ddb.adapterType = "lsilogic"
ddb.geometry.cylinders = "%d"
ddb.geometry.heads = "255"
ddb.geometry.sectors = "63"
ddb.virtualHWVersion = "14"
`, info.CID, capacity, info.FileName, cyl)
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// countingWriter tracks the output position (grain and table offsets are
// sector numbers in the file) and keeps the first error.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// pad fills to the next sector boundary.
func (c *countingWriter) pad() {
	if r := c.n % Sector; r != 0 {
		c.Write(make([]byte, Sector-r))
	}
}

// marker writes a metadata marker sector.
func (c *countingWriter) marker(numSectors uint64, typ uint32) {
	m := make([]byte, Sector)
	binary.LittleEndian.PutUint64(m[0:], numSectors)
	binary.LittleEndian.PutUint32(m[12:], typ)
	c.Write(m)
}
