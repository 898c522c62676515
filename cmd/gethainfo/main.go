// Command gethainfo prints this appliance's HA configuration and state in
// the layout of the seed's gethainfo: from the running hmd over its local
// socket, or, when hmd is down, from the last saved configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/daemon"
	"github.com/hafw/hafw/hmd/hainfo"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "gethainfo: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	layout := config.Layout{Root: config.DefaultRoot}
	fs := flag.NewFlagSet("gethainfo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", api.DefaultSocket, "hmd's local API `socket`")
	cfgPath := fs.String("config", layout.ConfigFile(), "appliance configuration `file` (used when hmd is down)")
	stateDir := fs.String("state-dir", layout.HMDDir(), "hmd state `directory` (used when hmd is down)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // the usage is printed
		}
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := api.NewUnixClient(*socket).Status(ctx)
	if err != nil {
		cfg, cerr := config.Load(*cfgPath)
		if cerr != nil {
			fmt.Fprintln(stdout, "Health Monitor is not running")
			return cerr
		}
		if st, err = daemon.SavedStatus(cfg, *stateDir); err != nil {
			return err
		}
	}
	return hainfo.Format(stdout, st)
}
