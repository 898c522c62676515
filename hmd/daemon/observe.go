package daemon

import (
	"fmt"
	"net/netip"

	"github.com/hafw/hafw/hmd/ha"
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
