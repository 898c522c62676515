package webui

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/events"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/internal/humantime"
)

// peerView is one peer as the pages print it. The same strings go into the
// server-rendered page and into the live JSON the script polls, so a value
// looks the same before and after the first update.
type peerView struct {
	Name            string   `json:"name"`
	HIP             string   `json:"hip"`
	VIP             string   `json:"vip"`
	Version         string   `json:"version"`
	UDI             string   `json:"udi"`
	Profile         string   `json:"profile"`
	FailoverType    string   `json:"failover_type"`
	FailbackType    string   `json:"failback_type"`
	FailoverWait    string   `json:"failover_wait"`
	Instance        string   `json:"instance"`
	DirectConnect   string   `json:"direct_connect"`
	Heartbeat       string   `json:"heartbeat"`
	State           string   `json:"state"`
	PeerState       string   `json:"peer_state"`
	Status          string   `json:"status"`
	DataReplication string   `json:"data_replication"`
	MeanHeartbeat   string   `json:"mean_heartbeat"`
	VIPHolder       string   `json:"vip_holder"`
	Reachability    string   `json:"reachability"`
	Warnings        []string `json:"warnings"`
	// Tones colour the live fields (data-field name → "up", "warn" or
	// "down"): the page and its live updates take them from here, so that
	// what stands out is decided once.
	Tones map[string]string `json:"tones"`
	// Progress is the running sync's percentage, -1 when none runs;
	// SyncLeft its progress in words with the estimate.
	Progress int    `json:"progress"`
	SyncLeft string `json:"sync_left"`
}

// title capitalises the API's "automatic"/"manual" as the seed prints them.
func title(s string) string {
	switch s {
	case api.Automatic:
		return "Automatic"
	case api.Manual:
		return "Manual"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func viewPeer(p api.PeerStatus) peerView {
	v := peerView{
		Name: p.Name, HIP: p.HealthMonitorIP, VIP: p.VIP, Version: p.Version, UDI: p.UDI, Profile: p.Profile,
		FailoverType: title(p.FailoverType), FailbackType: title(p.FailbackType), FailoverWait: humantime.Duration(p.FailoverWait()),
		Instance:      p.InstanceDBName + " (port " + strconv.Itoa(p.InstanceDBPort) + ")",
		DirectConnect: yesNo(p.DirectConnect), Heartbeat: p.Heartbeat, State: p.State, PeerState: p.PeerState,
		Status: p.StatusText, DataReplication: p.DataReplication,
		MeanHeartbeat: fmt.Sprintf("%.2f ms", p.MeanHeartbeatMS), VIPHolder: "Peer or nobody", Reachability: "Unreachable",
		Warnings: p.Warnings,
	}
	switch {
	case p.PeerState == "":
		v.PeerState = "unknown"
	case p.Heartbeat != "Up":
		// The peer is silent: its state is only what it last said.
		v.PeerState = p.PeerState + " (last known; heartbeats down)"
		v.MeanHeartbeat = "— (heartbeats down)"
	}
	switch {
	case p.OwnsVIP:
		v.VIPHolder = "this appliance"
	case p.PeerHoldsVIP:
		v.VIPHolder = p.Name + " (the peer)"
	case p.Heartbeat == "Up":
		v.VIPHolder = "nobody"
	default:
		v.VIPHolder = "not this appliance (the peer is silent: unknown whether it does)"
	}
	if p.Heartbeat == "Up" {
		v.Reachability = "Reachable"
	}
	v.Tones = map[string]string{
		"heartbeat":        upDown(p.Heartbeat == "Up"),
		"data_replication": replicationTone(p.DataReplication),
		"state":            stateTone(p.State),
		"peer_state":       stateTone(p.PeerState),
		"status":           statusTone(p),
	}
	if p.Heartbeat != "Up" && p.PeerState != "" {
		v.Tones["peer_state"] = "warn" // only the last known state
	}
	v.Progress = -1
	if p.Syncing {
		v.Progress, v.SyncLeft = p.SyncPercent, p.SyncText()
	}
	return v
}

// eventView is one row of the seed's events log.
type eventView struct {
	Description string `json:"description"`
	GeneratedBy string `json:"generated_by"`
	Time        string `json:"time"`
	Remarks     string `json:"remarks"`
}

func viewEvents(evs []events.Event) []eventView {
	out := make([]eventView, len(evs))
	for i, e := range evs {
		out[i] = eventView{Description: e.Description, GeneratedBy: e.GeneratedBy, Time: humantime.Time(e.Time), Remarks: e.Remarks}
	}
	return out
}

// live is what the status pages poll: every peer by health-monitor IP, the
// appliance's own state, and the selected peer's events.
type live struct {
	State   string              `json:"state"`
	Peers   map[string]peerView `json:"peers"`
	Events  []eventView         `json:"events"`
	Updated string              `json:"updated"`
}

func viewLive(st api.Status, evs []events.Event, now time.Time) live {
	l := live{State: st.State, Peers: map[string]peerView{}, Events: viewEvents(evs), Updated: humantime.Time(now)}
	for _, p := range st.Peers {
		l.Peers[p.HealthMonitorIP] = viewPeer(p)
	}
	return l
}

// findPeer returns the peer with health-monitor IP hip, or the only peer
// when hip is empty.
func findPeer(st api.Status, hip string) (api.PeerStatus, bool) {
	if hip == "" && len(st.Peers) == 1 {
		return st.Peers[0], true
	}
	for _, p := range st.Peers {
		if p.HealthMonitorIP == hip {
			return p, true
		}
	}
	return api.PeerStatus{}, false
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func replicationTone(s string) string {
	switch s {
	case "Up":
		return "up"
	case "Down":
		return "down"
	}
	return "warn"
}

// stateTone: the steady states of a healthy pair are "up", the ones a
// failover or failback passes through "warn", and a primary that stopped
// serving (or an unknown state) "down".
func stateTone(s string) string {
	switch ha.State(s) {
	case ha.PrimaryActive, ha.SecondaryActive:
		return "up"
	case ha.Terminated, "":
		return "down"
	}
	return "warn"
}

func statusTone(p api.PeerStatus) string {
	switch {
	case p.Heartbeat != "Up":
		return "down"
	case p.StatusText == "Active":
		return "up"
	}
	return "warn"
}
