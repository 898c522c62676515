package image

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

func TestGUIDRoundTrip(t *testing.T) {
	const s = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
	g, err := ParseGUID(s)
	if err != nil {
		t.Fatal(err)
	}
	if g.String() != s {
		t.Fatalf("round trip: %s", g)
	}
	// On disk the first field is little-endian.
	if g[0] != 0x28 || g[3] != 0xc1 {
		t.Fatalf("on-disk order wrong: % x", g[:4])
	}
	if _, err := ParseGUID("not-a-guid"); err == nil {
		t.Fatal("bad GUID accepted")
	}
	a, b := DeriveGUID("x"), DeriveGUID("x")
	if a != b || a == DeriveGUID("y") {
		t.Fatal("DeriveGUID is not a function of its seed")
	}
	if a[7]>>4 != 4 || a[8]>>6 != 2 {
		t.Fatalf("derived GUID %s is not version 4 / RFC 4122", a)
	}
}

// TestGPTEncode checks the structures against the UEFI rules: CRCs,
// mirrored backup header, protective MBR. (TestRawDiskLayout also reads a
// real image with sfdisk, an independent parser.)
func TestGPTEncode(t *testing.T) {
	g := diskLayout("test", minDiskBytes)
	primary, backup, err := g.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(primary) != 34*Sector || len(backup) != 33*Sector {
		t.Fatalf("sizes %d, %d", len(primary), len(backup))
	}
	if primary[510] != 0x55 || primary[511] != 0xaa || primary[446+4] != 0xee {
		t.Fatal("protective MBR missing")
	}
	check := func(h []byte, current uint64) {
		t.Helper()
		if string(h[:8]) != "EFI PART" {
			t.Fatal("no GPT signature")
		}
		hdr := append([]byte(nil), h[:92]...)
		want := binary.LittleEndian.Uint32(hdr[16:])
		binary.LittleEndian.PutUint32(hdr[16:], 0)
		if crc32.ChecksumIEEE(hdr) != want {
			t.Fatal("header CRC wrong")
		}
		if got := binary.LittleEndian.Uint64(h[24:]); got != current {
			t.Fatalf("header at LBA %d claims %d", current, got)
		}
	}
	check(primary[Sector:], 1)
	last := uint64(minDiskBytes/Sector) - 1
	check(backup[32*Sector:], last)
	if crc32.ChecksumIEEE(primary[2*Sector:]) != binary.LittleEndian.Uint32(primary[Sector+88:]) {
		t.Fatal("entries CRC wrong")
	}

	overlap := g
	overlap.Partitions = append([]Partition(nil), g.Partitions...)
	overlap.Partitions[1].FirstLBA = overlap.Partitions[0].LastLBA
	if _, _, err := overlap.Encode(); !errors.Is(err, ErrLayout) {
		t.Fatalf("overlapping partitions: %v", err)
	}
	tooSmall := g
	tooSmall.DiskSize = 2 << 20
	if _, _, err := tooSmall.Encode(); !errors.Is(err, ErrLayout) {
		t.Fatalf("partition beyond the disk: %v", err)
	}
}
