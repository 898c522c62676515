package daemon

import (
	"context"
	"time"

	"github.com/hafw/hafw/appliance"
	"github.com/hafw/hafw/hmd/events"
	"github.com/hafw/hafw/hmd/ha"
)

// EligibilityEvery is how often the role decision is asked again, so that
// a license installed or removed by any path (setup, hafw license, the
// console) takes effect without a restart.
const EligibilityEvery = 2 * time.Second

// decide asks Options.Decide; without one the configured role is taken.
// An error (an unreadable license directory) is logged when it first
// appears; the decision it comes with stands.
func (d *Daemon) decide() appliance.Decision {
	if d.opt.Decide == nil {
		return appliance.Decision{Role: d.opt.Config.Role, Reason: appliance.Configured}
	}
	dec, err := d.opt.Decide()
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg != d.decideErr {
		d.decideErr = msg
		if err != nil {
			d.log.Error("decide the HA role", "err", err)
		}
	}
	return dec
}

// setDecision gives every relationship the verdict (ha decides what it
// means for the VIP) and serves or releases a lone primary's VIP. A change
// is logged, and recorded in the events log when no relationship records
// it.
func (d *Daemon) setDecision(dec appliance.Decision) {
	changed := dec != d.decision
	d.decision = dec
	for i := range d.peers {
		d.step(i, ha.Eligibility{Reason: dec.Reason})
	}
	d.solo()
	if !changed {
		return
	}
	if dec.Reason.Eligible() {
		d.log.Info(dec.String(), "reason", dec.Reason)
	} else {
		d.log.Warn(dec.String(), "configured_role", d.opt.Config.Role, "reason", dec.Reason)
	}
	// At start only a refusal is worth a row; later every change is.
	if len(d.peers) > 0 || (!d.started && dec.Eligible()) {
		return
	}
	desc := ha.MsgRoleGranted
	if !dec.Eligible() {
		desc = ha.MsgRoleWithdrawn
	}
	if err := d.events.Append(events.Event{Time: time.Now(), Description: desc, GeneratedBy: d.role().GeneratedBy(), Remarks: dec.String()}); err != nil {
		d.log.Error("append event", "err", err)
	}
}

// recheckEligibility has the loop ask for the decision again every
// EligibilityEvery, and at once after recheckNow, until ctx ends (reading a
// few license files is quick).
func (d *Daemon) recheckEligibility(ctx context.Context) {
	t := time.NewTicker(EligibilityEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.recheck:
		}
		d.onLoop(func() { d.setDecision(d.decide()) })
	}
}

// recheckNow asks for the decision at once: a license was installed
// through the API and may activate this appliance.
func (d *Daemon) recheckNow() {
	select {
	case d.recheck <- struct{}{}:
	default: // one is pending already
	}
}
