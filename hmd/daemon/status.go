package daemon

import (
	"fmt"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/hmd/heartbeat"
	"github.com/hafw/hafw/hmd/store"
)

// baseStatus is the "Base high availability configuration" part.
func baseStatus(c config.Appliance, self store.Self) api.Status {
	st := api.Status{Role: string(c.Role), Hostname: c.Hostname, Version: self.Version, UDI: self.UDI, Profile: self.Profile, Peers: []api.PeerStatus{}}
	if ip := c.HealthMonitorIP(); ip.IsValid() {
		st.HealthMonitorIP = ip.String()
	}
	if c.VIP.IsValid() {
		st.VIP = c.VIP.Addr().String()
	}
	return st
}

// overallState is the one state the contract's "state" field shows: the
// relationship that serves (a secondary in failover), else the first one.
func overallState(c config.Appliance, peers []api.PeerStatus) string {
	for _, p := range peers {
		if p.OwnsVIP {
			return p.State
		}
	}
	if len(peers) > 0 {
		return peers[0].State
	}
	switch c.Role {
	case config.RolePrimary:
		return string(ha.PrimaryActive)
	case config.RoleSecondary:
		return api.StateNotPaired
	}
	return api.StateNone
}

// WarnNoWitness is the warning on a pair without a witness: the one
// failure it cannot ride out alone.
const WarnNoWitness = "No witness configured: if every link between the two appliances fails while clients still reach both, " +
	"both serve until the links heal (writes the losing side took are then quarantined). " +
	"Pair with a witness (hactl pair --witness, or the console's pairing form) so that only one serves."

// peerStatus is one "Peer configuration#" block and the management
// station's status rows for it.
func peerStatus(onPrimary bool, c store.PeerConfig, n ha.Node, hb heartbeat.PeerStatus, rejects map[string]uint64) api.PeerStatus {
	db, port, dg, alias := instanceNames(c.InstanceSlot, onPrimary)
	ps := api.PeerStatus{
		Name: c.Name, HealthMonitorIP: c.HIP.String(), VIP: c.VIP.Addr().String(),
		Version: c.Version, UDI: c.UDI, Profile: c.Profile,
		FailoverType: string(c.FailoverType), FailbackType: string(c.FailbackType), FailoverWaitMS: c.FailoverWait.Milliseconds(),
		HeartbeatIntervalMS: c.HeartbeatInterval.Milliseconds(),
		InstanceDBName:      db, InstanceDBPort: port, DataguardName: dg, PrimaryDBAlias: alias,
		DirectConnect: c.DirectIP.IsValid(), Heartbeat: "Down", State: string(n.State), LastShutdownState: string(n.LastShutdownState),
		PeerState: string(n.Peer.State), OwnsVIP: n.HoldsVIP, Epoch: n.Epoch, MeanHeartbeatMS: float64(hb.MeanRTT.Microseconds()) / 1000,
		HeartbeatsReceived: hb.Received, Rejected: rejects,
	}
	if c.DirectIP.IsValid() {
		ps.DirectConnectIP = c.DirectIP.String()
	}
	ps.HeartbeatPaths = heartbeatPaths(hb)
	if c.Witness.Addr.IsValid() {
		ps.Witness = c.Witness.Addr.String()
	} else {
		ps.Warnings = append(ps.Warnings, WarnNoWitness)
	}
	if n.Peer.Up {
		ps.Heartbeat = "Up"
	}
	ps.AppFailure, ps.PeerDegraded = n.AppFailure, n.Peer.Up && n.Peer.Degraded
	ps.PeerHoldsVIP = n.Peer.Up && n.Peer.HoldsVIP
	if n.Sync.Requested && !n.Sync.PeerSynced {
		ps.Syncing, ps.SyncPercent = true, n.Sync.Percent
	}
	// The serving side runs the sync and knows its state; the standby side
	// sees replication up while the serving peer is heard.
	switch {
	case n.HoldsVIP && n.Sync.PeerSynced, !n.HoldsVIP && n.Peer.Up && n.Peer.HoldsVIP:
		ps.DataReplication = "Up"
	case n.Sync.Requested:
		ps.DataReplication = "Setting up"
	default:
		ps.DataReplication = "Down"
	}
	ps.StatusText = statusText(n)
	return ps
}

// statusText is the management station's "Status" row, in the seed's
// wording where it has one.
func statusText(n ha.Node) string {
	switch n.State {
	case ha.PrimaryActive, ha.SecondaryActive:
		switch {
		case !n.Peer.Up:
			return "Heartbeats down"
		case n.Sync.Requested && !n.Sync.PeerSynced:
			return fmt.Sprintf("Primary and secondary server synchronization in progress (%d%% complete)", n.Sync.Percent)
		}
		return "Active"
	case ha.FailoverInvoked:
		return "Failover invoked"
	case ha.FailoverActive:
		return "Instance is in failover active state"
	case ha.Terminated:
		return "Primary instance terminated; the secondary is serving"
	case ha.FailbackActive:
		return "Failback in progress"
	case ha.FailbackComplete, ha.SecondaryAlone:
		return "Primary instance is not synchronized with the secondary server. In progress."
	case ha.GracefulShutdown:
		return "Graceful shutdown"
	}
	return "Initializing"
}

// SavedStatus is what gethainfo shows while hmd is down: the appliance
// configuration and every peer's last saved state, with Running false.
func SavedStatus(c config.Appliance, stateDir string) (api.Status, error) {
	s := store.Store{Dir: stateDir}
	self, err := s.LoadSelf()
	if err != nil {
		return api.Status{}, err
	}
	peers, err := s.Load()
	if err != nil {
		return api.Status{}, err
	}
	st := baseStatus(c, self)
	for _, p := range peers {
		n := p.Node
		// What the node would say at its next start: the state it was in
		// when hmd went away (GRACEFUL_SHUTDOWN keeps its predecessor).
		if n.State != ha.GracefulShutdown {
			n.LastShutdownState = n.State
		}
		n.Peer.Up = false
		st.Peers = append(st.Peers, peerStatus(c.Role == config.RolePrimary, p.Config, n, heartbeat.PeerStatus{}, nil))
	}
	st.State = overallState(c, st.Peers)
	return st, nil
}

// trackSync remembers when (and at what percentage) the running sync was
// first seen, the base of its estimate; it is called with every status.
func (p *peer) trackSync(syncing bool, percent int, now time.Time) {
	switch {
	case !syncing:
		p.syncFrom = time.Time{}
	case p.syncFrom.IsZero() || percent < p.syncFromPercent:
		// A new sync (or one started over).
		p.syncFrom, p.syncFromPercent = now, percent
	}
}

// syncRemaining estimates what a sync still needs at percent, at the pace
// it kept since it was seen at fromPercent: 0 when there is no pace to go
// by yet (no progress; or under a second and under 10 % of it).
func syncRemaining(from time.Time, fromPercent int, now time.Time, percent int) time.Duration {
	elapsed, done := now.Sub(from), percent-fromPercent
	if from.IsZero() || done <= 0 || percent >= 100 || elapsed <= 0 || (elapsed < time.Second && done < 10) {
		return 0
	}
	return (elapsed * time.Duration(100-percent) / time.Duration(done)).Round(time.Second)
}
