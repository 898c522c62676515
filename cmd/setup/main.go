// Command setup is the appliance's setup wizard (the seed's setup.sh) on
// the console: it asks the questions of package wizard (the administrator
// password first, hidden at a terminal), saves the result
// atomically on the data partition and asks the init agent to apply it
// without a reboot, then offers the reboot the seed recommends.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/initagent"
	"github.com/hafw/hafw/initagent/wizard"
	"github.com/hafw/hafw/internal/cli"
	"github.com/hafw/hafw/osnet"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "setup: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	paths := initagent.DefaultPaths()
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	cfgPath := fs.String("config", paths.Layout().ConfigFile(), "appliance configuration `file`")
	socket := fs.String("control", paths.ControlSocket(), "init agent control `socket`")
	licDir := fs.String("licenses", paths.Layout().LicenseDir(), "license `directory` on the data partition")
	vendorPub := fs.String("vendor-pub", filepath.Join(paths.Etc, "vendor.pub"), "licensing vendor public key `file` of the image")
	udi := fs.String("udi", "", "this appliance's UDI `PID:VID:SN` (default: from the init agent)")
	profile := fs.String("profile", "", "this appliance's profile `model` (default: from the init agent)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cur, err := config.Load(*cfgPath)
	switch {
	case errors.Is(err, config.ErrNotConfigured):
		cur = config.Default()
	case err != nil:
		fmt.Fprintf(stdout, "The stored configuration cannot be used (%v);\nstarting from the factory defaults. It is replaced only when you confirm.\n", err)
		cur = config.Default()
	}
	ctl := initagent.ControlClient{Socket: *socket}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// One reader for the wizard and the reboot question, so that nothing
	// typed ahead is lost between them.
	in := bufio.NewReader(stdin)
	w := &wizard.Wizard{
		In:      in,
		Out:     stdout,
		Current: cur,
		ServicesRunning: func() bool {
			st, err := ctl.Status(ctx)
			return err == nil && st.ServicesRunning()
		},
		// The date and time typed when NTP stays off set the system clock.
		Clock: osnet.SystemClock{},
	}
	// At a terminal the administrator password is typed without echo; a
	// script on standard input gives it as a line like any answer.
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		w.ReadSecret = func(prompt string) (string, error) { return cli.ReadPassword(int(f.Fd()), prompt, stdout) }
	}
	a, err := w.Run()
	if err != nil {
		return err
	}
	if err := config.Save(*cfgPath, a); err != nil {
		return fmt.Errorf("save configuration: %w", err)
	}
	fmt.Fprintf(stdout, "Configuration saved to %s.\n", *cfgPath)
	// License activation: before the reload, so the new ready
	// line already reports the license.
	if *udi == "" {
		if st, err := ctl.Status(ctx); err == nil {
			*udi, *profile = st.UDI, st.Profile
		}
	}
	if step, ok, err := newLicenseStep(in, stdout, *licDir, *vendorPub, *udi, *profile); err != nil {
		return err
	} else if ok {
		if err := step.run(ctx); err != nil {
			return err
		}
	}
	if _, err := ctl.Reload(ctx); err != nil {
		if errors.Is(err, initagent.ErrAgentNotRunning) {
			fmt.Fprintf(stdout, "The init agent is not running; the configuration takes effect at the next boot.\n")
			return nil
		}
		return fmt.Errorf("apply configuration: %w", err)
	}
	fmt.Fprintf(stdout, "Configuration applied without a reboot.\nA reboot is still recommended after setup. Reboot now? (yes/no) [no]: ")
	ans, _ := in.ReadString('\n')
	if strings.EqualFold(strings.TrimSpace(ans), "yes") {
		if err := ctl.Reboot(ctx); err != nil {
			return fmt.Errorf("reboot: %w", err)
		}
		fmt.Fprintf(stdout, "Rebooting.\n")
	}
	return nil
}
