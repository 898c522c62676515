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
			fmt.Fprintf(stdout, "Reboot scheduled at %s\n", st.RebootAt)
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
	p := &progressLog{w: stderr}
	body := &countingReader{r: f, f: func(n int64) { p.show("send", n, st.Size()) }}
	res, err := c.Upgrade(ctx, req, body, st.Size(), func(u api.UpgradeProgress) { p.show(u.Stage, u.Done, u.Total) })
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

// progressLog prints a line per stage and per tenth of it: readable on a
// terminal and in a script's log alike.
type progressLog struct {
	w     io.Writer
	stage string
	tenth int64
}

func (p *progressLog) show(stage string, done, total int64) {
	if total <= 0 || stage == "" {
		return
	}
	tenth := done * 10 / total
	if stage == p.stage && tenth <= p.tenth {
		return
	}
	p.stage, p.tenth = stage, tenth
	fmt.Fprintf(p.w, "%s: %d%% (%.1f of %.1f MiB)\n", stage, tenth*10, float64(done)/(1<<20), float64(total)/(1<<20))
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
