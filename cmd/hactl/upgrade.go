package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/internal/cli"
	"github.com/hafw/hafw/internal/humantime"
	"github.com/hafw/hafw/upgrade"
)

// runUpgrade is `hactl upgrade FILE` (send an update bundle to hmd, which
// verifies it and writes the inactive boot slot) and `hactl upgrade
// status` (the slots and a scheduled reboot).
func runUpgrade(ctx context.Context, c *api.Client, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "status" {
		if err := parse(flags("upgrade status", stderr), args[1:]); err != nil {
			return err
		}
		st, err := c.UpgradeStatus(ctx)
		if err != nil {
			return err
		}
		upgrade.WriteTable(stdout, st.Slots)
		if st.RebootAt != "" {
			fmt.Fprintf(stdout, "Reboot scheduled at %s\n", humantime.RFC3339(st.RebootAt))
		}
		return nil
	}
	fs := flags("upgrade", stderr)
	reboot := fs.String("reboot", "", "reboot into the new firmware `WHEN`: now, HH:MM (the next one, local time) or an RFC 3339 time; default: at the next reboot")
	downgrade := fs.Bool("allow-downgrade", false, "install a version that is not newer than the running one")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError("%v", err)
	}
	if fs.NArg() != 1 {
		return usageError("upgrade needs exactly one update bundle FILE (or: upgrade status)")
	}
	req := api.UpgradeRequest{AllowDowngrade: *downgrade}
	if *reboot != "" {
		at, err := rebootTime(*reboot, time.Now())
		if err != nil {
			return usageError("--reboot: %v", err)
		}
		req.Reboot = at
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("update bundle: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("update bundle: %w", err)
	}
	// A block device (a bundle written to a stick with dd) has no size:
	// it is sent to its end, and the appliance reads the bundle's own.
	size := st.Size()
	if !st.Mode().IsRegular() {
		size = -1
	}
	p := &cli.Progress{W: stderr}
	body := &countingReader{r: f, f: func(n int64) { p.Show("send", n, size) }}
	res, err := c.Upgrade(ctx, req, body, size, func(u api.UpgradeProgress) { p.Show(u.Stage, u.Done, u.Total) })
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.Message)
	return nil
}

// rebootTime reads --reboot: "now", "HH:MM" (the next such time) or RFC
// 3339.
func rebootTime(s string, now time.Time) (time.Time, error) {
	if s == "now" {
		return now, nil
	}
	if t, err := time.ParseInLocation("15:04", s, now.Location()); err == nil {
		at := time.Date(now.Year(), now.Month(), now.Day(), t.Hour(), t.Minute(), 0, 0, now.Location())
		if !at.After(now) {
			at = at.AddDate(0, 0, 1)
		}
		return at, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not now, HH:MM or an RFC 3339 time", s)
	}
	return t, nil
}

type countingReader struct {
	r io.Reader
	n int64
	f func(int64)
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	c.f(c.n)
	return n, err
}
