package daemon

import (
	"net/netip"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/hmd/heartbeat"
	"github.com/hafw/hafw/hmd/store"
)

func TestSavedStatusIsTheLastSavedState(t *testing.T) {
	dir := t.TempDir()
	s := store.Store{Dir: dir}
	if err := s.SaveSelf(store.Self{Hostname: "mse1", Version: "8.0.110.0", UDI: "AIR-MSE-VA-K9:V01:mse1", Profile: "VA-Low"}); err != nil {
		t.Fatal(err)
	}
	cfg := store.PeerConfig{Name: "mse2", HIP: netip.MustParseAddr("10.10.10.13"), VIP: netip.MustParsePrefix("10.10.10.11/24"),
		FailoverType: ha.Manual, FailbackType: ha.Manual, FailoverWait: 10 * time.Second, InstanceSlot: 3}
	// Killed while TERMINATED; and a second peer stopped gracefully.
	if err := s.Save(store.Peer{Config: cfg, Node: ha.Node{State: ha.Terminated, Peer: ha.PeerView{Up: true}}}); err != nil {
		t.Fatal(err)
	}
	cfg2 := cfg
	cfg2.HIP, cfg2.InstanceSlot = netip.MustParseAddr("10.10.10.14"), 4
	if err := s.Save(store.Peer{Config: cfg2, Node: ha.Node{State: ha.GracefulShutdown, LastShutdownState: ha.PrimaryActive}}); err != nil {
		t.Fatal(err)
	}
	app := config.Default()
	app.Hostname, app.Role = "mse1", config.RolePrimary
	app.Eth0 = config.Interface{Enabled: true, Address: netip.MustParsePrefix("10.10.10.12/24")}
	app.VIP = netip.MustParsePrefix("10.10.10.11/24")
	st, err := SavedStatus(app, dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Running || st.Version != "8.0.110.0" || st.HealthMonitorIP != "10.10.10.12" || st.VIP != "10.10.10.11" || len(st.Peers) != 2 {
		t.Fatalf("saved status: %+v", st)
	}
	p := st.Peers[0]
	if p.LastShutdownState != "TERMINATED" || p.Heartbeat != "Down" || p.InstanceDBName != "mseos3s" || p.InstanceDBPort != 1624 || p.FailoverWaitMS != 10000 {
		t.Fatalf("first peer: %+v", p)
	}
	if st.Peers[1].LastShutdownState != "PRIMARY_ACTIVE" {
		t.Fatalf("graceful stop keeps the state before it: %+v", st.Peers[1])
	}
}

func TestPeerStatusRows(t *testing.T) {
	cfg := store.PeerConfig{HIP: netip.MustParseAddr("10.10.10.13"), VIP: netip.MustParsePrefix("10.10.10.11/24"), InstanceSlot: 3}
	cases := []struct {
		node       ha.Node
		status     string
		heartbeat  string
		replicates string
	}{
		{ha.Node{State: ha.PrimaryActive, HoldsVIP: true, Peer: ha.PeerView{Up: true}, Sync: ha.SyncView{PeerSynced: true}}, "Active", "Up", "Up"},
		{ha.Node{State: ha.PrimaryActive, HoldsVIP: true, Peer: ha.PeerView{Up: true}, Sync: ha.SyncView{Requested: true, Percent: 68}},
			"Primary and secondary server synchronization in progress (68% complete)", "Up", "Setting up"},
		{ha.Node{State: ha.SecondaryActive, Peer: ha.PeerView{Up: true, HoldsVIP: true}}, "Active", "Up", "Up"},
		{ha.Node{State: ha.PrimaryActive, HoldsVIP: true}, "Heartbeats down", "Down", "Down"},
		{ha.Node{State: ha.FailoverActive, HoldsVIP: true}, "Instance is in failover active state", "Down", "Down"},
		{ha.Node{State: ha.FailbackComplete, Peer: ha.PeerView{Up: true, HoldsVIP: true}}, "Primary instance is not synchronized with the secondary server. In progress.", "Up", "Up"},
	}
	for _, c := range cases {
		ps := peerStatus(true, cfg, c.node, heartbeat.PeerStatus{MeanRTT: 6 * time.Millisecond}, nil)
		if ps.StatusText != c.status || ps.Heartbeat != c.heartbeat || ps.DataReplication != c.replicates || ps.MeanHeartbeatMS != 6 {
			t.Errorf("%s: got %q/%s/%s/%v, want %q/%s/%s", c.node.State, ps.StatusText, ps.Heartbeat, ps.DataReplication, ps.MeanHeartbeatMS, c.status, c.heartbeat, c.replicates)
		}
	}
}

// A pair without a witness is warned about; one with a witness is not.
func TestNoWitnessWarning(t *testing.T) {
	cfg := store.PeerConfig{HIP: netip.MustParseAddr("10.10.10.13"), VIP: netip.MustParsePrefix("10.10.10.11/24"), InstanceSlot: 3}
	node := ha.Node{State: ha.PrimaryActive, HoldsVIP: true}
	if ps := peerStatus(true, cfg, node, heartbeat.PeerStatus{}, nil); len(ps.Warnings) != 1 || ps.Warnings[0] != WarnNoWitness {
		t.Errorf("no witness: warnings %q", ps.Warnings)
	}
	cfg.Witness.Addr = netip.MustParseAddr("10.10.10.14")
	if ps := peerStatus(true, cfg, node, heartbeat.PeerStatus{}, nil); len(ps.Warnings) != 0 || ps.Witness != "10.10.10.14" {
		t.Errorf("with a witness: warnings %q, witness %q", ps.Warnings, ps.Witness)
	}
}

// Only a change beyond the peer's last-heard time is worth an fsync.
func TestChangedBeyondHeardAt(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	saved := ha.Node{State: ha.SecondaryActive, Since: t0, Peer: ha.PeerView{Up: true, State: ha.PrimaryActive, HeardAt: t0}}
	heard := saved
	heard.Peer.HeardAt = t0.Add(40 * time.Millisecond)
	if changedBeyondHeardAt(saved, heard) {
		t.Error("a new heartbeat alone made the node dirty")
	}
	for name, edit := range map[string]func(*ha.Node){
		"state":      func(n *ha.Node) { n.State = ha.FailoverInvoked },
		"peer state": func(n *ha.Node) { n.Peer.State = ha.GracefulShutdown },
		"peer down":  func(n *ha.Node) { n.Peer.Up = false },
		"claim":      func(n *ha.Node) { n.Claim.Active = true },
		"epoch":      func(n *ha.Node) { n.Epoch++ },
	} {
		n := heard
		edit(&n)
		if !changedBeyondHeardAt(saved, n) {
			t.Errorf("%s changed but the node is not dirty", name)
		}
	}
}

// The overall state names what the appliance does: an unpaired primary
// serves (PRIMARY_ACTIVE), an unpaired secondary backs up nobody, and the
// serving relationship wins over the first one.
func TestOverallState(t *testing.T) {
	primary, secondary, none := config.Default(), config.Default(), config.Default()
	primary.Role, secondary.Role = config.RolePrimary, config.RoleSecondary
	for _, c := range []struct {
		cfg   config.Appliance
		peers []api.PeerStatus
		want  string
	}{
		{primary, nil, "PRIMARY_ACTIVE"},
		{secondary, nil, "NOT_PAIRED"},
		{none, nil, "NONE"},
		{secondary, []api.PeerStatus{{State: "SECONDARY_ACTIVE"}}, "SECONDARY_ACTIVE"},
		{secondary, []api.PeerStatus{{State: "SECONDARY_ACTIVE"}, {State: "FAILOVER_ACTIVE", OwnsVIP: true}}, "FAILOVER_ACTIVE"},
	} {
		if got := overallState(c.cfg, c.peers); got != c.want {
			t.Errorf("%s with %d peers: %s, want %s", c.cfg.Role, len(c.peers), got, c.want)
		}
	}
}

// The sync's estimate follows its pace so far, and says nothing until
// there is a pace to go by.
func TestSyncRemaining(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		from        time.Time
		fromPercent int
		now         time.Time
		percent     int
		want        time.Duration
	}{
		{t0, 0, t0.Add(time.Minute), 25, 3 * time.Minute},
		{t0, 0, t0.Add(30 * time.Second), 50, 30 * time.Second},
		{t0, 40, t0.Add(10 * time.Second), 50, 50 * time.Second}, // first seen at 40 %: 10 % per 10 s
		{t0, 0, t0.Add(time.Minute), 0, 0},
		{t0, 30, t0.Add(time.Minute), 30, 0},
		{t0, 0, t0.Add(500 * time.Millisecond), 5, 0},
		{t0, 0, t0.Add(500 * time.Millisecond), 20, 2 * time.Second}, // a fast copy: 10 % or more is a pace
		{time.Time{}, 0, t0, 50, 0},
		{t0, 0, t0.Add(time.Minute), 100, 0},
	} {
		if got := syncRemaining(c.from, c.fromPercent, c.now, c.percent); got != c.want {
			t.Errorf("%v from %d %% to %d %%: %v, want %v", c.now.Sub(c.from), c.fromPercent, c.percent, got, c.want)
		}
	}
}
