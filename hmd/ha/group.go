package ha

import (
	"fmt"
	"slices"
	"time"
)

// BusyError says that a secondary may not take over for Peer because it
// already serves ActiveFor (N:1: one failover at a time).
type BusyError struct {
	Peer, ActiveFor string
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("may not take over for %s: already active for %s", e.Peer, e.ActiveFor)
}

// MayTakeOver answers "may this node take the VIP of relationship g[i]
// now?" over all the relationships g of one node: a secondary backing
// several primaries serves at most one of them at a time. A primary has
// one relationship and may always.
func MayTakeOver(g []Node, i int) error {
	if g[i].Config.Role != Secondary {
		return nil
	}
	for j, o := range g {
		if j != i && o.HoldsVIP {
			return &BusyError{Peer: g[i].Config.Peer, ActiveFor: o.Config.Peer}
		}
	}
	return nil
}

// StepGroup steps relationship g[i] of a node with several relationships
// (N:1) and returns the new group; other relationships are unchanged. A
// takeover refused because another relationship is served stays pending
// and proceeds when that one is released.
func StepGroup(g []Node, i int, ev Event, now time.Time) ([]Node, []Action) {
	busy := ""
	if err := MayTakeOver(g, i); err != nil {
		busy = err.(*BusyError).ActiveFor
	}
	out := slices.Clone(g)
	var acts []Action
	out[i], acts = step(g[i], ev, now, busy)
	return out, acts
}
