// Command hafw-demo runs the end-to-end demo (package demo): two
// VA-Standard appliances booted from a freshly built image in QEMU, paired,
// failed over by pulling the primary's power, failed back, with a client
// writing through the VIP. `make demo` runs it as root; Ctrl-C cleans up.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hafw/hafw/demo"
)

func main() {
	src := flag.String("src", ".", "hafw source `directory` (built into the image)")
	work := flag.String("work", "", "work `directory` for the image and disks (default: a temporary one, removed afterwards)")
	boot := flag.Duration("boot-timeout", 5*time.Minute, "time allowed for each boot to the ready line")
	wait := flag.Duration("failover-wait", demo.DefaultFailoverWait, "the pair's long failover wait (raise it on a busy host)")
	verbose := flag.Bool("v", false, "log the image build")
	flag.Parse()
	if err := run(*src, *work, *boot, *wait, *verbose); err != nil {
		fmt.Fprintf(os.Stderr, "hafw-demo: %v\n", err)
		os.Exit(1)
	}
}

func run(src, work string, boot, wait time.Duration, verbose bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if work == "" {
		dir, err := os.MkdirTemp("", "hafw-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	sum, err := demo.Run(ctx, demo.Options{SrcDir: abs, WorkDir: work, Out: os.Stdout, BootTimeout: boot, FailoverWait: wait,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))})
	sum.Print(os.Stdout)
	return err
}
