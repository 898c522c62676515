package image

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// dataExtents lists the ranges of f that may hold data (SEEK_DATA /
// SEEK_HOLE), so that converting a mostly empty sparse disk reads only its
// content. On a file system without hole reporting the whole file is one
// extent, which is correct, only slower.
func dataExtents(f *os.File) ([]Extent, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("listing data extents: %w", err)
	}
	size := st.Size()
	var out []Extent
	fd := int(f.Fd())
	for off := int64(0); off < size; {
		start, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("listing data extents: %w", err)
		}
		end, err := unix.Seek(fd, start, unix.SEEK_HOLE)
		if err != nil {
			return nil, fmt.Errorf("listing data extents: %w", err)
		}
		out = append(out, Extent{Off: start, Len: end - start})
		off = end
	}
	return out, nil
}
