package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hafw/hafw/image/flash"
	"github.com/hafw/hafw/internal/cli"
)

// runFlash is `hafw flash`: show the target, refuse a disk in use, confirm,
// write, verify. The confirmation is read from the process's stdin.
func runFlash(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return flashCmd{in: os.Stdin, host: flash.DefaultHost}.run(ctx, args, stdout, stderr)
}

// flashCmd carries what `hafw flash` reads besides its arguments, so a
// test can answer the confirmation.
type flashCmd struct {
	in   io.Reader
	host flash.Host
}

func (c flashCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("flash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	img := fs.String("image", "", "raw firmware disk `IMG` (hafw build output)")
	dev := fs.String("device", "", "target disk `DEV` (whole block device) or a plain file")
	manifest := fs.String("manifest", "", "build manifest `FILE` (default: IMG's .manifest.json)")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	keep := fs.Bool("keep-data", false, "rewrite only the boot side; keep the hafw-data partition (configuration, licenses, instance data)")
	if err := fs.Parse(args); err != nil {
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *img == "" || *dev == "" {
		return usageError("need --image IMG and --device DEV")
	}
	sum, err := flash.ManifestSHA256(*img, *manifest)
	if err != nil {
		return err
	}
	t, err := c.host.Inspect(*dev)
	if err != nil {
		return err
	}
	describeTarget(stdout, t)
	mounts, err := c.host.Mounts()
	if err != nil {
		return err
	}
	if err := t.InUse(mounts); err != nil {
		return &cli.ExitError{Code: 1, Msg: err.Error()}
	}
	if !*yes {
		what := "ALL DATA ON IT WILL BE LOST"
		if *keep {
			what = "its boot partition will be rewritten, hafw-data kept"
		}
		fmt.Fprintf(stdout, "Flash %s onto %s? %s. Type yes to continue: ", *img, *dev, what)
		line, _ := bufio.NewReader(c.in).ReadString('\n')
		if strings.TrimSpace(line) != "yes" {
			return &cli.ExitError{Code: 1, Msg: "not confirmed; nothing written"}
		}
	}
	res, err := flash.Flash(ctx, flash.Options{Image: *img, ImageSHA256: sum, Target: t, KeepData: *keep,
		Progress: progressPrinter(stderr)})
	if err != nil {
		if errors.Is(err, flash.ErrRefused) {
			return &cli.ExitError{Code: 1, Msg: err.Error() + " (nothing written)"}
		}
		return &cli.ExitError{Code: 1, Msg: "FAILED: " + err.Error()}
	}
	fmt.Fprintf(stdout, "flashed %s onto %s: %d bytes written, read back and verified (SHA-256 %s)\n", *img, *dev, res.Written, res.SHA256)
	if res.Kept != nil {
		fmt.Fprintf(stdout, "kept partition %d (%s, %d bytes at offset %d) untouched\n", res.Kept.Index, res.Kept.Name, res.Kept.Size, res.Kept.Offset)
	}
	return nil
}

// describeTarget shows the engineer what is about to be overwritten.
func describeTarget(w io.Writer, t flash.Target) {
	kind := "file"
	if t.Block {
		kind = "block device " + t.Name
	}
	model := t.Model
	if model == "" {
		model = "unknown model"
	}
	fmt.Fprintf(w, "target %s: %s, %s, %d bytes (%.1f GiB)\n", t.Path, kind, model, t.Size, float64(t.Size)/(1<<30))
	if t.Parts == nil {
		fmt.Fprintf(w, "  partitions: none readable (%v)\n", t.PartsErr)
	}
	for _, p := range t.Parts {
		fmt.Fprintf(w, "  partition %d %-12s offset %d size %d\n", p.Index, p.Name, p.Offset, p.Size)
	}
}

// progressPrinter draws a bar on a terminal and otherwise logs a line per
// phase step of 10%, so a CI log or serial console is not flooded.
func progressPrinter(w io.Writer) func(string, int64, int64) {
	tty := isTerminal(w)
	last := map[string]int64{}
	lastDraw := time.Time{}
	return func(phase string, done, total int64) {
		pct := done * 100 / total
		if !tty {
			if step := pct / 10; step >= last[phase] || done == total {
				last[phase] = step + 1
				fmt.Fprintf(w, "%s: %d%% (%d of %d bytes)\n", phase, pct, done, total)
			}
			return
		}
		if done != total && time.Since(lastDraw) < 200*time.Millisecond {
			return
		}
		lastDraw = time.Now()
		bar := strings.Repeat("#", int(pct/4)) + strings.Repeat(".", 25-int(pct/4))
		fmt.Fprintf(w, "\r%-14s [%s] %3d%% %d/%d MiB", phase, bar, pct, done>>20, total>>20)
		if done == total {
			fmt.Fprintln(w)
		}
	}
}
