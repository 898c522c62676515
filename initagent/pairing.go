package initagent

import (
	"context"
	"fmt"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hwprofiles"
)

// CheckPeers applies the seed's pairing matrices to this appliance and the
// peers hmd knows, by model name. On a primary each peer is its secondary;
// on a secondary the peers are the primaries it backs up (N:1). Peers
// whose profile is not known yet are skipped: the check runs again at the
// next boot or reload.
func CheckPeers(role config.Role, self string, peers []string) error {
	me, err := hwprofiles.Lookup(self)
	if err != nil {
		return fmt.Errorf("pairing check: %w", err)
	}
	var known []hwprofiles.Profile
	for _, name := range peers {
		if name == "" {
			continue
		}
		p, err := hwprofiles.Lookup(name)
		if err != nil {
			return fmt.Errorf("pairing check: peer: %w", err)
		}
		known = append(known, p)
	}
	switch {
	case len(known) == 0:
		return nil
	case role == config.RolePrimary:
		for _, sec := range known {
			if err := hwprofiles.CheckPairing(sec, me); err != nil {
				return err
			}
		}
		return nil
	case role == config.RoleSecondary:
		return hwprofiles.CheckPairing(me, known...)
	}
	return nil
}

// checkPairing asks the running hmd for its peers and reports an
// unsupported pair on the console. hmd itself refuses such a pairing when
// it is made; this catches a pair that became unsupported (a replaced or
// re-profiled appliance) and makes it visible at boot.
func (r *runtime) checkPairing(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := r.a.hmdStatus(ctx)
	if err != nil {
		r.a.Log.Info("pairing check skipped: hmd status unavailable", "err", err)
		return
	}
	b := r.boot()
	if err := CheckPeers(b.role, b.profile, st.PeerProfiles); err != nil {
		r.mu.Lock()
		r.pairing = err.Error()
		r.mu.Unlock()
		r.a.consolef("hafw-init: UNSUPPORTED HA PAIR: %v", err)
	}
}
