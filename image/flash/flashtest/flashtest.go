// Package flashtest writes small firmware-shaped disk images (GPT, an ESP
// and a hafw-data partition, plus a build manifest) for the tests of
// image/flash and `hafw flash`, far smaller than a real build.
package flashtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hafw/hafw/image"
)

// Geometry of the test images, in bytes: the ESP spans [ESP, Data), the
// 2 MiB data partition starts at Data unless moved.
const (
	ESP      = 1 << 20
	Data     = 3 << 20
	DataSize = 2 << 20
	Size     = 6 << 20
)

// Write writes dir/name (name ends in .img) filled with espByte in the
// ESP and dataByte in the data partition, whose first sector is dataLBA,
// and dir/<name>.manifest.json listing its SHA-256. It returns the path.
func Write(t testing.TB, dir, name string, espByte, dataByte byte, dataLBA uint64) string {
	t.Helper()
	g := image.GPT{DiskID: image.DeriveGUID("fix"), DiskSize: Size, Partitions: []image.Partition{
		{Type: image.TypeESP, ID: image.DeriveGUID("esp"), Name: "hafw-esp", FirstLBA: ESP / image.Sector, LastLBA: Data/image.Sector - 1},
		{Type: image.TypeLinuxData, ID: image.DeriveGUID("data"), Name: "hafw-data", FirstLBA: dataLBA, LastLBA: dataLBA + DataSize/image.Sector - 1},
	}}
	primary, backup, err := g.Encode()
	if err != nil {
		t.Fatal(err)
	}
	disk := make([]byte, Size)
	copy(disk, primary)
	copy(disk[Size-len(backup):], backup)
	for i := ESP; i < Data; i++ {
		disk[i] = espByte
	}
	d := int(dataLBA * image.Sector)
	for i := d; i < d+DataSize; i++ {
		disk[i] = dataByte
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, disk, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(disk)
	m, err := json.Marshal(image.Manifest{Profile: "3355", Outputs: []image.Output{{File: name, Size: Size, SHA256: hex.EncodeToString(sum[:])}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, strings.TrimSuffix(name, ".img")+".manifest.json"), m, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
