package initagent

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// maxOVFEnv bounds what is parsed: an OVF environment is a few KiB.
const maxOVFEnv = 256 << 10

// ParseOVFEnv reads the properties of an OVF environment document
// (ovf-env.xml, DMTF DSP0243) as ESXi hands it to the guest on the ISO or
// guestinfo transport. Property keys are the kernel command line's
// without the "hafw." prefix; empty values are left out, because the OVF
// descriptor offers every property and an empty one means "leave it to
// the setup wizard".
func ParseOVFEnv(data []byte) (map[string]string, error) {
	if len(data) > maxOVFEnv {
		return nil, fmt.Errorf("OVF environment is %d bytes, more than %d", len(data), maxOVFEnv)
	}
	var env struct {
		XMLName    xml.Name
		Properties []struct {
			Key   string `xml:"key,attr"`
			Value string `xml:"value,attr"`
		} `xml:"PropertySection>Property"`
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("parse OVF environment: %w", err)
	}
	if env.XMLName.Local != "Environment" {
		return nil, fmt.Errorf("parse OVF environment: root element is <%s>, want <Environment>", env.XMLName.Local)
	}
	out := map[string]string{}
	for _, p := range env.Properties {
		key := strings.TrimPrefix(strings.TrimSpace(p.Key), "hafw.")
		if key == "" {
			return nil, errors.New("parse OVF environment: property without a key")
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("parse OVF environment: property %q given twice", key)
		}
		if v := strings.TrimSpace(p.Value); v != "" {
			out[key] = v
		}
	}
	return out, nil
}

// readOVFEnvFromCDROM looks for ovf-env.xml on the CD-ROM drives (the ISO
// transport of the OVF environment): each sr* device is mounted read-only
// on a scratch directory, read and unmounted. No drive or no file is not
// an error: most boots have neither.
func (a *Agent) readOVFEnvFromCDROM() ([]byte, error) {
	drives, _ := filepath.Glob(filepath.Join(a.Paths.Sys, "class", "block", "sr*"))
	mnt := filepath.Join(a.Paths.Run, "ovf-env")
	for _, d := range drives {
		dev := filepath.Join(a.Paths.Dev, filepath.Base(d))
		if err := a.Sys.Mount(Mount{Source: dev, Target: mnt, FSType: "iso9660", Flags: unix.MS_RDONLY}); err != nil {
			continue // empty drive or no iso9660 support: not our transport
		}
		data, err := os.ReadFile(filepath.Join(mnt, "ovf-env.xml"))
		if uerr := a.Sys.Unmount(mnt); uerr != nil {
			a.Log.Warn("unmount OVF environment", "err", uerr)
		}
		if err == nil {
			return data, nil
		}
	}
	return nil, nil
}

// ovfKeys returns the OVF environment's configuration keys, if there is
// an environment.
func (a *Agent) ovfKeys(_ context.Context) (map[string]string, error) {
	if !a.PID1 {
		return nil, nil
	}
	data, err := a.readOVFEnvFromCDROM()
	if err != nil || data == nil {
		return nil, err
	}
	return ParseOVFEnv(data)
}
