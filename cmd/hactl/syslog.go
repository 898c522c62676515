package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/hafw/hafw/internal/cli"

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
	var caFile string
	if args[0] == "set" {
		fs.StringVar(&col.Address, "address", "", "the collector's `IP:port` (6514 is the usual TLS port)")
		fs.StringVar(&col.Transport, "transport", "udp", "udp, tcp or tls (RFC 5425)")
		fs.StringVar(&caFile, "ca", "", "PEM `file` of the CA the TLS collector's certificate is signed by")
		fs.StringVar(&col.ServerName, "server-name", "", "the name in the TLS collector's certificate (default: its IP)")
		fs.StringVar(&col.Fingerprint, "fingerprint", "", "pin the TLS collector's certificate (SHA-256 hex)")
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if caFile != "" {
		ca, err := os.ReadFile(caFile)
		if err != nil {
			return cli.Failf("read the collector's CA: %v", err)
		}
		col.CA = string(ca)
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
		if cur.CA != "" {
			fmt.Fprintf(stdout, "verified by its CA, name %s\n", cmp.Or(cur.ServerName, "(its IP)"))
		}
		if cur.Fingerprint != "" {
			fmt.Fprintf(stdout, "pinned certificate %s\n", cur.Fingerprint)
		}
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
