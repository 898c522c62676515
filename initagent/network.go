package initagent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hafw/hafw/osnet"
)

// stepNetwork applies eth0 and eth1 through osnet. A port that fails is
// reported and the other still configured. The direct-connect port is one
// of them with its static point-to-point address (config.Validate insists).
func stepNetwork(ctx context.Context, a *Agent, b *bootState) error {
	b.eth0, b.eth1 = "down", "none"
	if a.Network == nil {
		return nil
	}
	var errs []error
	for _, name := range []string{"eth0", "eth1"} {
		port, _ := b.cfg.Port(name)
		st, err := a.Network.Configure(ctx, name, *port)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		if name == "eth0" {
			b.eth0 = PortReport(name, st)
		} else {
			b.eth1 = PortReport(name, st)
		}
	}
	return errors.Join(errs...)
}

// stepDNS writes the static DNS servers (DHCP ports write their lease's
// through osnet).
func stepDNS(_ context.Context, a *Agent, b *bootState) error {
	if len(b.cfg.DNSServers) == 0 {
		return nil
	}
	return osnet.WriteResolvConf(a.Paths.ResolvConf, b.cfg.DNSServers, b.cfg.Domain)
}

// stepNTP sets the clock from the configured servers. No server reachable
// is a warning: the appliance must come up without them.
func stepNTP(ctx context.Context, a *Agent, b *bootState) error {
	if a.Clock == nil || len(b.cfg.NTPServers) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := osnet.TimeSync{Servers: b.cfg.NTPServers, Clock: a.Clock}.Sync(ctx)
	if err != nil {
		return fmt.Errorf("NTP: %w (the clock is not synchronised)", err)
	}
	a.consolef("hafw-init: NTP: offset %s from %s (stratum %d, stepped=%v)", res.Offset, res.Server, res.Stratum, res.Stepped)
	return nil
}
