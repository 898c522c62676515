package image

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
)

// buildOVA converts the raw disk into a streamOptimized VMDK and packs it
// with its OVF descriptor and manifest into ova.
func buildOVA(o Options, base, disk, ova, seed string) error {
	dir := filepath.Dir(ova)
	vmdkPath := filepath.Join(dir, base+"-disk1.vmdk")
	src, err := os.Open(disk)
	if err != nil {
		return fmt.Errorf("opening disk: %w", err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return fmt.Errorf("opening disk: %w", err)
	}
	extents, err := dataExtents(src)
	if err != nil {
		return err
	}
	out, err := os.Create(vmdkPath)
	if err != nil {
		return fmt.Errorf("creating VMDK: %w", err)
	}
	defer out.Close()
	cid := sha256.Sum256([]byte(seed + "/cid"))
	o.Log.Info("writing VMDK", "disk_bytes", st.Size(), "extents", len(extents))
	if err := WriteStreamOptimized(out, src, st.Size(), extents, VMDKInfo{
		FileName: filepath.Base(vmdkPath), CID: binary.LittleEndian.Uint32(cid[:4]),
	}); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("writing VMDK: %w", err)
	}
	vst, err := os.Stat(vmdkPath)
	if err != nil {
		return fmt.Errorf("writing VMDK: %w", err)
	}
	ovf, err := renderOVF(ovfInput{Name: base, Model: o.Profile.Model, Version: o.Version,
		VMDK: filepath.Base(vmdkPath), VMDKSize: vst.Size(), Profile: o.Profile})
	if err != nil {
		return err
	}
	return writeOVA(ova, base+".ovf", ovf, vmdkPath, o.Epoch)
}
