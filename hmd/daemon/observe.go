package daemon

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/hmd/heartbeat"
)

// Observer hears what the event loop did: every state change and every
// row the state machine appends to the events log. It is called on the
// loop goroutine, so it must return at once and never wait for I/O
// (package notify queues what it sends).
type Observer interface {
	StateChanged(peer netip.Addr, from, to ha.State, cause string)
	Recorded(peer netip.Addr, r ha.Record)
}

// observeChange tells the observer, if any, of a state change caused by ev.
func (d *Daemon) observeChange(p *peer, from ha.State, ev ha.Event) {
	if d.opt.Observer != nil {
		d.opt.Observer.StateChanged(p.cfg.HIP, from, p.node.State, fmt.Sprintf("%T", ev))
	}
}

// observeRecord tells the observer, if any, of an events-log row.
func (d *Daemon) observeRecord(p *peer, r ha.Record) {
	if d.opt.Observer != nil {
		d.opt.Observer.Recorded(p.cfg.HIP, r)
	}
}

// rttObserver turns the monitor's per-pair round trips into per-peer ones
// for Options.HeartbeatRTT (nil without it). The peer set is fixed for
// the monitor's life, so the map is read-only.
func (d *Daemon) rttObserver() func(pair, path string, rtt time.Duration) {
	if d.opt.HeartbeatRTT == nil {
		return nil
	}
	peers := map[string]netip.Addr{}
	for _, p := range d.peers {
		peers[d.pairID(p.cfg)] = p.cfg.HIP
	}
	report := d.opt.HeartbeatRTT
	return func(pair, path string, rtt time.Duration) {
		if hip, ok := peers[pair]; ok {
			report(hip, path, rtt)
		}
	}
}

// heartbeatPaths is the API's view of the monitor's paths, by name.
func heartbeatPaths(hb heartbeat.PeerStatus) []api.HeartbeatPath {
	out := make([]api.HeartbeatPath, 0, len(hb.Paths))
	for name, p := range hb.Paths {
		out = append(out, api.HeartbeatPath{Name: name, Up: p.Up, MeanRTTMS: float64(p.MeanRTT.Microseconds()) / 1000, Requests: p.Requests, Replies: p.Replies})
	}
	slices.SortFunc(out, func(a, b api.HeartbeatPath) int { return strings.Compare(a.Name, b.Name) })
	return out
}
