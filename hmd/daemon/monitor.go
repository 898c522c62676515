package daemon

import (
	"context"
	"net/netip"
	"sync"

	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/hmd/heartbeat"
	"github.com/hafw/hafw/hmd/store"
)

// monitor is a running heartbeat.Monitor. Its peer set is fixed, so
// pairing and unpairing replace it.
type monitor struct {
	m      *heartbeat.Monitor
	cancel context.CancelFunc
	done   sync.WaitGroup
}

func (m *monitor) setLocal(pair string, n ha.Node) {
	m.m.SetLocal(pair, heartbeat.Local{State: n.State, Epoch: n.Epoch, HoldsVIP: n.HoldsVIP, Graceful: n.State == ha.GracefulShutdown,
		Degraded: n.AppFailure != "", Ineligible: !n.Ineligible.Eligible()})
}

func (m *monitor) sendNow(pair string) { m.m.SendNow(pair) }

func (m *monitor) stop() {
	m.cancel()
	m.done.Wait()
}

// directIP is this appliance's address on the direct-connect cable, if any.
func (d *Daemon) directIP() netip.Addr {
	c := d.opt.Config
	if c.DirectConnectInterface == "" {
		return netip.Addr{}
	}
	p, err := c.Port(c.DirectConnectInterface)
	if err != nil || !p.Static() {
		return netip.Addr{}
	}
	return p.Address.Addr()
}

// restartMonitor replaces the heartbeat monitor with one for the current
// peers (none when there are no peers).
func (d *Daemon) restartMonitor() error {
	if d.mon != nil {
		d.mon.stop()
		d.mon = nil
	}
	if len(d.peers) == 0 {
		return nil
	}
	port := uint16(d.opt.HeartbeatPort)
	cfg := heartbeat.Config{
		Node:     d.hip.String(),
		Firmware: d.opt.Version,
		Paths:    []heartbeat.Path{{Name: "hm", Local: netip.AddrPortFrom(d.hip, port)}},
		Logger:   d.log,
	}
	dc := d.directIP()
	if dc.IsValid() {
		cfg.Paths = append(cfg.Paths, heartbeat.Path{Name: "dc", Local: netip.AddrPortFrom(dc, port)})
	}
	// One monitor serves every peer: it sends at the shortest interval and
	// watches at the shortest wait, and tells each peer down after its own.
	for i, p := range d.peers {
		if i == 0 || p.cfg.HeartbeatInterval < cfg.Interval {
			cfg.Interval = p.cfg.HeartbeatInterval
		}
		if i == 0 || p.cfg.FailoverWait < cfg.FailoverWait {
			cfg.FailoverWait = p.cfg.FailoverWait
		}
		remotes := map[string]netip.AddrPort{"hm": netip.AddrPortFrom(p.cfg.HIP, port)}
		if dc.IsValid() && p.cfg.DirectIP.IsValid() {
			remotes["dc"] = netip.AddrPortFrom(p.cfg.DirectIP, port)
		}
		cfg.Peers = append(cfg.Peers, heartbeat.Peer{Pair: d.pairID(p.cfg), Node: p.cfg.HIP.String(), Secret: p.cfg.Secret, Remotes: remotes,
			FailoverWait: p.cfg.FailoverWait})
	}
	cfg.OnRTT = d.rttObserver()
	m, err := heartbeat.New(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.mon = &monitor{m: m, cancel: cancel}
	for _, p := range d.peers {
		d.mon.setLocal(d.pairID(p.cfg), p.node)
	}
	d.mon.done.Add(1)
	go func() {
		defer d.mon.done.Done()
		_ = m.Run(ctx, d.hbEvents)
	}()
	return nil
}

// heartbeatStatus is the monitor's view of one peer, zero without monitor.
func (d *Daemon) heartbeatStatus(c store.PeerConfig) heartbeat.PeerStatus {
	if d.mon == nil {
		return heartbeat.PeerStatus{}
	}
	st, _ := d.mon.m.Status(d.pairID(c))
	return st
}

// heartbeatRejects counts the rejected heartbeats by reason (one monitor
// serves every peer), nil without monitor.
func (d *Daemon) heartbeatRejects() map[string]uint64 {
	if d.mon == nil {
		return nil
	}
	return d.mon.m.Rejects()
}
