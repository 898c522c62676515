package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hafw/hafw/hwprofiles"
	"github.com/hafw/hafw/image"
	"github.com/hafw/hafw/image/recovery"
)

// checkRecoveryMedia refuses --recovery-media for profiles that build an
// OVA, before anything is built.
func checkRecoveryMedia(profiles []hwprofiles.Profile) error {
	for _, p := range profiles {
		if p.ImageFormat != hwprofiles.RawDisk {
			return usageError("--recovery-media needs raw-disk profiles; %s builds %s", p.Model, p.ImageFormat)
		}
	}
	return nil
}

// buildRecoveryMedia is `hafw build --recovery-media`: the installer media
// for the raw image just built (docs/field.md).
func buildRecoveryMedia(ctx context.Context, stdout io.Writer, p hwprofiles.Profile, m *image.Manifest, out, src string) error {
	var fw string
	for _, o := range m.Outputs {
		if strings.HasSuffix(o.File, ".img") {
			fw = filepath.Join(out, o.File)
		}
	}
	if fw == "" {
		return fmt.Errorf("%s: the build produced no raw image", p.Model)
	}
	media := strings.TrimSuffix(fw, ".img") + ".recovery.img"
	if err := recovery.BuildMedia(ctx, recovery.MediaOptions{Firmware: fw, SrcDir: src, Out: media}); err != nil {
		return fmt.Errorf("%s: recovery media: %w", p.Model, err)
	}
	st, err := os.Stat(media)
	if err != nil {
		return fmt.Errorf("%s: recovery media: %w", p.Model, err)
	}
	fmt.Fprintf(stdout, "%s  %-40s %6.1f MiB  recovery media (boots the installer)\n", p.Model, media, float64(st.Size())/(1<<20))
	return nil
}
