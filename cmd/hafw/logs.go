package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/logs"
)

// runLogs is `hafw logs [--app hmd|initagent] [-n N] [-f]` on the
// appliance: the last lines of a program's log on the data partition, and
// with -f the lines as they come (following the file across rotations).
// It reads the files directly, so it works while hmd is down.
func runLogs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", filepath.Join(config.DefaultRoot, "logs"), "log `directory`")
	app := fs.String("app", "hmd", "whose log: hmd or initagent")
	n := fs.Int("n", 50, "print the last `N` lines")
	follow := fs.Bool("f", false, "follow: print new lines as they are written")
	if err := fs.Parse(args); err != nil {
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *app != "hmd" && *app != "initagent" {
		return usageError("--app %q: want hmd or initagent", *app)
	}
	lines, err := logs.Tail(*dir, *app, max(*n, 1))
	if err != nil {
		return err
	}
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	if !*follow {
		return nil
	}
	return followLog(ctx, logs.File(*dir, *app), stdout)
}

// followLog prints what is appended to path from its current end; when
// the file is rotated (replaced or truncated) it starts on the new one.
func followLog(ctx context.Context, path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if f != nil {
		defer func() { f.Close() }()
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			return err
		}
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		if f != nil {
			if _, err := io.Copy(w, f); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		cur, err := os.Stat(path)
		if err != nil {
			continue
		}
		var here os.FileInfo
		if f != nil {
			here, _ = f.Stat()
		}
		pos := int64(0)
		if f != nil {
			pos, _ = f.Seek(0, io.SeekCurrent)
		}
		if here == nil || !os.SameFile(here, cur) || cur.Size() < pos {
			nf, err := os.Open(path)
			if err != nil {
				continue
			}
			if f != nil {
				// What the old file got after the last read is lost only
				// if it was written after the rename: lumberjack renames
				// and then writes to the new file.
				if _, err := io.Copy(w, f); err != nil {
					return err
				}
				f.Close()
			}
			f = nf
		}
	}
}
