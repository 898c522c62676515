// Command installer is PID 1 of the recovery media (rdinit=/bin/installer):
// it mounts the kernel file systems, loads the firmware's modules, finds
// the media's hafw-install partition, runs the console dialogue of
// image/recovery and reboots into the installed disk. It never exits: on a
// failure it says so and asks again.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hafw/hafw/image/flash"
	"github.com/hafw/hafw/image/recovery"
	"github.com/hafw/hafw/initagent"
)

const mediaDir = "/media"

func main() {
	out := os.Stdout
	sys := initagent.LinuxSystem{}
	for _, m := range []initagent.Mount{
		{Source: "proc", Target: "/proc", FSType: "proc"},
		{Source: "sysfs", Target: "/sys", FSType: "sysfs"},
		{Source: "devtmpfs", Target: "/dev", FSType: "devtmpfs"},
		{Source: "tmpfs", Target: "/tmp", FSType: "tmpfs"},
	} {
		if err := sys.Mount(m); err != nil {
			fmt.Fprintf(out, "hafw-installer: warning: %v\n", err)
		}
	}
	if data, err := os.ReadFile("/etc/hafw/modules.list"); err == nil {
		mods, err := initagent.ParseModulesList(string(data))
		if err != nil {
			fmt.Fprintf(out, "hafw-installer: warning: %v\n", err)
		}
		for _, m := range mods {
			if err := sys.LoadModule(m); err != nil {
				fmt.Fprintf(out, "hafw-installer: warning: %v\n", err)
			}
		}
	}
	fmt.Fprintf(out, "hafw-installer: recovery media installer\n")
	in := bufio.NewReader(os.Stdin)
	for {
		err := install(in)
		if err == nil {
			unix.Sync()
			fmt.Fprintf(out, "hafw-installer: rebooting into the installed firmware\n")
			time.Sleep(time.Second)
			if err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART); err != nil {
				fmt.Fprintf(out, "hafw-installer: reboot: %v\n", err)
			}
			select {}
		}
		fmt.Fprintf(out, "hafw-installer: FAILED: %v\n", err)
		if errors.Is(err, os.ErrClosed) || errors.Is(err, errNoInput) {
			select {} // no console to ask on; PID 1 must not exit
		}
		fmt.Fprintf(out, "Press Enter to start again.\n")
		if _, err := in.ReadString('\n'); err != nil {
			select {}
		}
	}
}

var errNoInput = errors.New("console closed")

// install finds the media partition, mounts it and runs the dialogue.
func install(in *bufio.Reader) error {
	part, disk, err := findMedia(30 * time.Second)
	if err != nil {
		return err
	}
	media := initagent.Mount{Source: "/dev/" + part, Target: mediaDir, FSType: "ext4", Flags: unix.MS_RDONLY}
	if err := (initagent.LinuxSystem{}).Mount(media); err != nil {
		return err
	}
	imgs, err := filepath.Glob(filepath.Join(mediaDir, "*.img"))
	if err != nil || len(imgs) != 1 {
		return fmt.Errorf("want exactly one firmware image on %s, found %v", part, imgs)
	}
	_, err = recovery.Installer{In: in, Out: os.Stdout, Host: flash.DefaultHost, Dev: "/dev",
		Firmware: imgs[0], MediaDisk: disk}.Run(context.Background())
	if err != nil && strings.Contains(err.Error(), "reading the answer") {
		return fmt.Errorf("%w: %w", errNoInput, err)
	}
	return err
}

// findMedia waits for the partition labelled hafw-install to appear and
// returns it and its disk.
func findMedia(wait time.Duration) (part, disk string, err error) {
	deadline := time.Now().Add(wait)
	for {
		parts, _ := filepath.Glob("/sys/class/block/*/partition")
		for _, p := range parts {
			name := filepath.Base(filepath.Dir(p))
			f, err := os.Open("/dev/" + name)
			if err != nil {
				continue
			}
			head := make([]byte, 4096)
			_, rerr := f.ReadAt(head, 0)
			f.Close()
			if rerr != nil {
				continue
			}
			sb, err := initagent.ParseSuperblock(head)
			if err != nil || !sb.Ext || sb.Label != recovery.MediaLabel {
				continue
			}
			real, err := filepath.EvalSymlinks(filepath.Dir(p))
			if err != nil {
				return "", "", fmt.Errorf("resolving %s: %w", name, err)
			}
			return name, filepath.Base(filepath.Dir(real)), nil
		}
		if time.Now().After(deadline) {
			return "", "", fmt.Errorf("no partition labelled %s found", recovery.MediaLabel)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
