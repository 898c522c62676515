package daemon

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/hafw/hafw/hmd/events"
	"github.com/hafw/hafw/hmd/store"
	"github.com/hafw/hafw/internal/atomicfile"
)

// openState opens the events log and loads the pairings. A damaged file
// never stops HA: the events log is display history and starts afresh; a
// damaged peer file costs only that pairing (it is moved aside, shown in
// the status and logged as an event) and the node keeps its other pairs.
// Only what cannot be moved aside or read at all is an error.
func (d *Daemon) openState() ([]store.Peer, error) {
	evs, err := events.Open(d.eventsPath(), 0)
	if err != nil {
		return nil, err
	}
	d.events = evs
	if dmg := evs.Damaged(); dmg != nil {
		d.log.Error("events log damaged: moved aside, starting afresh", "quarantine", dmg.Quarantine, "err", dmg.Err)
		d.quarantined = append(d.quarantined, dmg.Quarantine)
		d.Event(netip.Addr{}, "Events log damaged", "moved to "+dmg.Quarantine+"; history starts afresh ("+dmg.Err.Error()+")")
	}
	peers, damaged, err := d.store.LoadChecked()
	if err != nil {
		return nil, err
	}
	for _, dp := range damaged {
		q, err := atomicfile.Quarantine(dp.Path, time.Now())
		if err != nil {
			return nil, err
		}
		d.log.Error("pairing file damaged: moved aside, this pairing is inactive until paired again or restored",
			slog.String("peer", dp.HIP.String()), slog.String("quarantine", q), slog.Any("err", dp.Err))
		d.quarantined = append(d.quarantined, q)
		d.Event(dp.HIP, "Pairing damaged", "moved to "+q+"; pair again or restore it ("+dp.Err.Error()+")")
	}
	return peers, nil
}
