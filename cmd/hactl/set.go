package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hafw/hafw/hmd/api"
)

// runSet changes a paired appliance's HA settings (the console's Save on
// the HA configuration page): only the flags given change, the peer takes
// them first, and a refusal changes nothing on either side.
func runSet(ctx context.Context, c *api.Client, args []string, stdout, stderr io.Writer) error {
	fs := flags("set", stderr)
	var req api.SettingsRequest
	var failover, failback, witness string
	var wait, interval time.Duration
	fs.StringVar(&req.Peer, "peer", "", "the peer's health monitor `IP` (needed with two peers)")
	fs.StringVar(&failover, "failover", "", "failover type: automatic or manual")
	fs.StringVar(&failback, "failback", "", "failback type: automatic or manual")
	fs.DurationVar(&wait, "wait", 0, "long failover wait (100ms to 10m); a default heartbeat interval follows it")
	fs.DurationVar(&interval, "interval", 0, "heartbeat interval, at most a third of the wait (0: a fifth of the wait)")
	fs.StringVar(&witness, "witness", "", "witness health-monitor `IP` that must agree the primary is gone before the secondary takes over automatically; '' removes the witness")
	fs.StringVar(&req.WitnessPassword, "witness-password", os.Getenv("HAFW_WITNESS_PASSWORD"), "the witness's appliance `password` (default $HAFW_WITNESS_PASSWORD)")
	fs.StringVar(&req.WitnessFingerprint, "witness-fingerprint", "", "pin the witness's API certificate (SHA-256 hex, as `hactl status` there shows it)")
	if err := parse(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["failover"] {
		req.FailoverType = &failover
	}
	if set["failback"] {
		req.FailbackType = &failback
	}
	if set["wait"] {
		req.LongFailoverWait = new(api.Duration(wait))
	}
	if set["interval"] {
		req.HeartbeatInterval = new(api.Duration(interval))
	}
	if set["witness"] {
		req.Witness = &witness
	}
	if witness == "" && !set["witness-password"] {
		req.WitnessPassword = "" // the environment's is for a new witness only
	}
	if req.Empty() {
		return usageError("name a setting to change: --failover, --failback, --wait, --interval or --witness")
	}
	res, err := c.UpdateSettings(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.Message)
	return nil
}
