package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/internal/humantime"
	"github.com/hafw/hafw/notify"
)

// runTraps is the seed's Trap Destinations page on the command line:
// add (or replace), list, delete and test. Secrets are best given in the
// environment (they would show in the process list as flags); they are
// never printed back.
func runTraps(ctx context.Context, c *api.Client, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("traps needs an action: add, list, delete or test")
	}
	action, rest := args[0], args[1:]
	switch action {
	case "add":
		return trapsAdd(ctx, c, rest, stdout, stderr)
	case "list":
		fs := flags("traps list", stderr)
		if err := parse(fs, rest); err != nil {
			return err
		}
		l, err := c.Traps(ctx)
		if err != nil {
			return err
		}
		return printTraps(stdout, l)
	case "delete", "test":
		fs := flags("traps "+action, stderr)
		name := fs.String("name", "", "the destination's `name`")
		if err := parse(fs, rest); err != nil {
			return err
		}
		if *name == "" {
			return usageError("--name is required")
		}
		do := c.DeleteTrap
		if action == "test" {
			do = c.TestTrap
		}
		res, err := do(ctx, *name)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, res.Message)
		return nil
	}
	return usageError("unknown traps action %q: want add, list, delete or test", action)
}

func trapsAdd(ctx context.Context, c *api.Client, args []string, stdout, stderr io.Writer) error {
	fs := flags("traps add", stderr)
	var d api.TrapDestination
	fs.StringVar(&d.Name, "name", "", "the destination's `name`")
	fs.StringVar(&d.Address, "address", "", "the receiver's `IP` or IP:port (port 162 by default)")
	fs.StringVar(&d.Version, "version", notify.V2c, "SNMP `version`: v2c or v3 (authPriv)")
	fs.StringVar(&d.Community, "community", os.Getenv("HAFW_TRAP_COMMUNITY"), "v2c `community` (default $HAFW_TRAP_COMMUNITY)")
	fs.StringVar(&d.User, "user", "", "v3 USM `user`")
	fs.StringVar(&d.AuthProtocol, "auth", notify.AuthSHA, "v3 authentication `protocol`: SHA or SHA-256")
	fs.StringVar(&d.AuthKey, "auth-key", os.Getenv("HAFW_TRAP_AUTH_KEY"), "v3 authentication pass `phrase` (default $HAFW_TRAP_AUTH_KEY)")
	fs.StringVar(&d.PrivProtocol, "priv", notify.PrivAES, "v3 privacy `protocol`: AES or AES-256")
	fs.StringVar(&d.PrivKey, "priv-key", os.Getenv("HAFW_TRAP_PRIV_KEY"), "v3 privacy pass `phrase` (default $HAFW_TRAP_PRIV_KEY)")
	fs.BoolVar(&d.Inform, "inform", false, "send informs (acknowledged, retried) instead of traps")
	if err := parse(fs, args); err != nil {
		return err
	}
	if d.Version != notify.V3 {
		d.AuthProtocol, d.PrivProtocol = "", ""
	}
	res, err := c.PutTrap(ctx, d)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.Message)
	return nil
}

// printTraps lists the destinations in the seed's terms, with delivery
// counters and the engine ID v3 receivers need.
func printTraps(w io.Writer, l api.TrapList) error {
	fmt.Fprintf(w, "SNMPv3 engine ID: 0x%s\n", l.EngineID)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Name\tIP Address\tVersion\tUser\tKind\tSent\tFailed\tDropped\tLast Updated\tLast Error")
	for _, d := range l.Destinations {
		kind := "trap"
		if d.Inform {
			kind = "inform"
		}
		user := d.User
		if user == "" {
			user = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", d.Name, d.Address, d.Version, user, kind, d.Sent, d.Failed, d.Dropped,
			humantime.Time(d.Updated), orDash(d.LastError))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
