// Package vip is the VIP executor: the one place that applies VIP
// ownership decided by the state machine. It adds the virtual IP to the
// health-monitor interface with an eth0:1 style label, announces it with a
// burst of gratuitous ARP and keeps refreshing the announcement while it is
// held; it removes the VIP first when told to let go; at start-up it
// removes every VIP this node does not own.
//
// Each held VIP has its own refresh goroutine, so a failing send on one
// never stops announcements of another. The OS is reached only through
// osnet's small interfaces.
package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/hafw/hafw/osnet"
)

// Timing of announcements. The burst covers a lost frame or two at
// takeover; the refresh keeps switch MAC tables and neighbour caches from
// ageing the VIP out.
const (
	DefaultBurstCount   = 5
	DefaultBurstGap     = 50 * time.Millisecond
	DefaultRefreshEvery = 2 * time.Second
	DefaultProbeTimeout = 150 * time.Millisecond
	// DefaultReachTimeout bounds the gateway vote. A live gateway answers
	// at once and ends the probe early, so a generous bound costs nothing
	// when all is well and keeps a busy machine from voting "isolated".
	DefaultReachTimeout = time.Second
)

// Executor holds and releases VIPs on one interface.
type Executor struct {
	Interface    string
	Addrs        osnet.VIPAddresses
	Announcer    osnet.Announcer
	Prober       osnet.Prober
	Log          *slog.Logger
	BurstCount   int
	BurstGap     time.Duration
	RefreshEvery time.Duration
	ProbeTimeout time.Duration
	ReachTimeout time.Duration

	mu   sync.Mutex
	held map[netip.Prefix]context.CancelFunc
	wg   sync.WaitGroup
}

// Label is the address label of the VIP on the interface (eth0:1).
func (e *Executor) Label() string { return e.Interface + ":1" }

func (e *Executor) burst() (int, time.Duration) {
	c, g := e.BurstCount, e.BurstGap
	if c <= 0 {
		c = DefaultBurstCount
	}
	if g <= 0 {
		g = DefaultBurstGap
	}
	return c, g
}

// Hold adds vip to the interface (idempotent) and announces it: a burst now
// and refreshes until Release. Holding a VIP that is already held sends a
// new burst, which is what the state machine asks for when the peer steps
// down and switches must learn at once.
func (e *Executor) Hold(vip netip.Prefix) error {
	if err := e.Addrs.AddSecondary(e.Interface, vip, e.Label()); err != nil {
		return fmt.Errorf("hold VIP %s: %w", vip, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.held == nil {
		e.held = map[netip.Prefix]context.CancelFunc{}
	}
	if stop, ok := e.held[vip]; ok {
		stop()
	}
	ctx, stop := context.WithCancel(context.Background())
	e.held[vip] = stop
	count, gap := e.burst()
	every := e.RefreshEvery
	if every <= 0 {
		every = DefaultRefreshEvery
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if err := e.Announcer.Burst(ctx, vip.Addr(), count, gap); err != nil {
			e.Log.Warn("gratuitous ARP burst failed", "vip", vip, "err", err)
		}
		if err := e.Announcer.Refresh(ctx, vip.Addr(), every); err != nil {
			e.Log.Warn("gratuitous ARP refresh stopped", "vip", vip, "err", err)
		}
	}()
	e.Log.Info("holding VIP", "vip", vip, "interface", e.Interface, "label", e.Label())
	return nil
}

// Quiet stops the periodic announcements of a held vip but keeps the
// address, so the node still answers ARP requests and serves (ha.QuietVIP:
// the peer is silent and may hold the VIP too, and two holders refreshing
// in turn would flip the clients between them). Hold announces again.
func (e *Executor) Quiet(vip netip.Prefix) {
	e.mu.Lock()
	defer e.mu.Unlock()
	stop, ok := e.held[vip]
	if !ok {
		return
	}
	stop()
	// Still held: Reconcile must not remove it, Release still does.
	e.held[vip] = func() {}
	e.Log.Info("VIP held quietly: periodic gratuitous ARP paused", "vip", vip, "interface", e.Interface)
}

// Release stops announcing vip and removes it from the interface
// (idempotent).
func (e *Executor) Release(vip netip.Prefix) error {
	e.mu.Lock()
	if stop, ok := e.held[vip]; ok {
		stop()
		delete(e.held, vip)
	}
	e.mu.Unlock()
	if err := e.Addrs.RemoveSecondary(e.Interface, vip); err != nil {
		return fmt.Errorf("release VIP %s: %w", vip, err)
	}
	e.Log.Info("released VIP", "vip", vip, "interface", e.Interface)
	return nil
}

// Reconcile removes from the interface every address among vips that this
// node does not hold: at start-up hmd holds nothing, so a VIP left behind by
// a crash or a kill -9 goes before anything else happens. Every VIP is
// tried; the errors are joined.
func (e *Executor) Reconcile(vips []netip.Prefix) error {
	have, err := e.Addrs.Addrs(e.Interface)
	if err != nil {
		return fmt.Errorf("reconcile VIPs: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, a := range have {
		for _, v := range vips {
			if a.Prefix.Addr() != v.Addr() {
				continue
			}
			if _, ok := e.held[v]; ok {
				continue
			}
			if err := e.Addrs.RemoveSecondary(e.Interface, a.Prefix); err != nil {
				errs = append(errs, err)
				continue
			}
			e.Log.Warn("removed a VIP this node does not own", "vip", a.Prefix, "interface", e.Interface)
		}
	}
	return errors.Join(errs...)
}

// Owner ARP-probes ip (RFC 5227: sender 0.0.0.0) and returns the hardware
// address of another host answering for it, or "" when nobody does. "Nobody"
// costs the whole probe timeout, which is part of every failover, so it is
// kept short.
func (e *Executor) Owner(ctx context.Context, ip netip.Addr) (string, error) {
	macs, err := e.Prober.Probe(ctx, ip, netip.Addr{}, e.probeTimeout())
	if err != nil {
		return "", fmt.Errorf("probe VIP %s: %w", ip, err)
	}
	if len(macs) == 0 {
		return "", nil
	}
	return macs[0].String(), nil
}

// Reachable ARP-probes ip from self (the health-monitor address) and
// reports whether anything answered: the default gateway's vote.
func (e *Executor) Reachable(ctx context.Context, ip, self netip.Addr) bool {
	timeout := e.ReachTimeout
	if timeout <= 0 {
		timeout = DefaultReachTimeout
	}
	macs, err := e.Prober.Probe(ctx, ip, self, timeout)
	if err != nil {
		e.Log.Warn("probe failed", "ip", ip, "err", err)
		return false
	}
	return len(macs) > 0
}

func (e *Executor) probeTimeout() time.Duration {
	if e.ProbeTimeout > 0 {
		return e.ProbeTimeout
	}
	return DefaultProbeTimeout
}

// Close stops every announcement without removing the addresses (the
// state machine removes them explicitly on shutdown) and waits for the
// goroutines.
func (e *Executor) Close() {
	e.mu.Lock()
	for v, stop := range e.held {
		stop()
		delete(e.held, v)
	}
	e.mu.Unlock()
	e.wg.Wait()
}
