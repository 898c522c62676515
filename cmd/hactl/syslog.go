package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/notify"
)

// runSyslog sets, shows or turns off the remote syslog collector (RFC
// 5424): hmd's log lines and the events the notification rules send there.
func runSyslog(ctx context.Context, c *api.Client, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("syslog needs an action: set, show or off")
	}
	fs := flags("syslog "+args[0], stderr)
	var col notify.Syslog
	if args[0] == "set" {
		fs.StringVar(&col.Address, "address", "", "the collector's `IP:port`")
		fs.StringVar(&col.Transport, "transport", "udp", "udp or tcp")
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "show":
		cur, err := c.SyslogCollector(ctx)
		if err != nil {
			return err
		}
		if cur == nil {
			fmt.Fprintln(stdout, "syslog forwarding off")
			return nil
		}
		fmt.Fprintf(stdout, "syslog collector %s/%s (RFC 5424)\n", cur.Address, cur.Transport)
		return nil
	case "set", "off":
		var set *notify.Syslog
		if args[0] == "set" {
			set = &col
		}
		res, err := c.SetSyslogCollector(ctx, set)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, res.Message)
		return nil
	}
	return usageError("unknown syslog action %q: want set, show or off", args[0])
}
