package recovery

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/image/flash"
)

// Installer is the console dialogue of the recovery media: list the
// internal disks, let the engineer pick one and confirm, flash the firmware
// onto it keeping its data partition unless told otherwise.
type Installer struct {
	In  *bufio.Reader
	Out io.Writer
	// Host inspects the target; its Sys is also where disks are listed.
	Host flash.Host
	// Dev is the device directory (/dev).
	Dev string
	// Firmware is the raw image on the media; its manifest lies next to it.
	Firmware string
	// MediaDisk is the kernel name of the media's own disk, never offered.
	MediaDisk string
}

// ErrAborted means the engineer declined; nothing was written.
var ErrAborted = errors.New("installation not confirmed; nothing written")

func (in Installer) ask(prompt string) (string, error) {
	fmt.Fprint(in.Out, prompt)
	line, err := in.In.ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("reading the answer: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// Run asks, flashes and returns the device written.
func (in Installer) Run(ctx context.Context) (string, error) {
	sum, err := flash.ManifestSHA256(in.Firmware, "")
	if err != nil {
		return "", err
	}
	disks, err := InternalDisks(in.Host.Sys, in.MediaDisk)
	if err != nil {
		return "", err
	}
	if len(disks) == 0 {
		return "", errors.New("no internal disk found")
	}
	fmt.Fprintf(in.Out, "hafw-installer: firmware %s\nhafw-installer: internal disks:\n", filepath.Base(in.Firmware))
	for _, d := range disks {
		model := d.Model
		if model == "" {
			model = "unknown model"
		}
		fmt.Fprintf(in.Out, "  %-10s %8.1f GiB  %s\n", d.Name, float64(d.Size)/(1<<30), model)
	}
	var disk Disk
	for {
		ans, err := in.ask(fmt.Sprintf("Install onto which disk? [%s]: ", disks[0].Name))
		if err != nil {
			return "", err
		}
		if ans == "" {
			ans = disks[0].Name
		}
		found := false
		for _, d := range disks {
			if d.Name == ans || "/dev/"+d.Name == ans {
				disk, found = d, true
			}
		}
		if found {
			break
		}
		fmt.Fprintf(in.Out, "Invalid answer: %q is not one of the listed disks.\n", ans)
	}
	dev := filepath.Join(in.Dev, disk.Name)
	t, err := in.Host.Inspect(dev)
	if err != nil {
		return "", err
	}
	mounts, err := in.Host.Mounts()
	if err != nil {
		return "", err
	}
	if err := t.InUse(mounts); err != nil {
		return "", err
	}
	keep := false
	if _, ok := keepable(t); ok {
		ans, err := in.ask(fmt.Sprintf("%s has a %s partition (configuration, licenses, instance data). Keep it? (yes/no) [yes]: ", dev, config.DataPartitionLabel))
		if err != nil {
			return "", err
		}
		keep = ans == "" || strings.EqualFold(ans, "yes")
	}
	what := "ALL DATA ON IT WILL BE LOST"
	if keep {
		what = "its " + config.DataPartitionLabel + " partition is kept"
	}
	ans, err := in.ask(fmt.Sprintf("Flash the firmware onto %s? %s. Type yes to continue: ", dev, what))
	if err != nil {
		return "", err
	}
	if ans != "yes" {
		return "", ErrAborted
	}
	last := int64(-1)
	res, err := flash.Flash(ctx, flash.Options{Image: in.Firmware, ImageSHA256: sum, Target: t, KeepData: keep,
		Progress: func(phase string, done, total int64) {
			if pct := done * 100 / total / 20; pct != last || done == total {
				last = pct
				fmt.Fprintf(in.Out, "hafw-installer: %s %d%%\n", phase, done*100/total)
			}
		}})
	if err != nil {
		return "", err
	}
	fmt.Fprintf(in.Out, "hafw-installer: installed onto %s: %d bytes written and verified\n", dev, res.Written)
	return dev, nil
}

// keepable reports the target's data partition when it is where the
// firmware puts it (the only case --keep-data can work).
func keepable(t flash.Target) (flash.Part, bool) {
	for _, p := range t.Parts {
		if p.Name == config.DataPartitionLabel {
			return p, true
		}
	}
	return flash.Part{}, false
}
