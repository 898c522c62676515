// Package api is hmd's management API: HTTP+JSON served on the local unix
// socket (for gethainfo and hactl, trusted by file permissions) and over TLS
// on the health-monitor address, port 8443 (for the management station, the
// web UI and the peer, authenticated by the appliance password or, between
// paired peers, by the pinned certificate).
//
// The package holds the wire types, strict request decoding with per-field
// errors, the HTTP handler, the client and the TLS identity. It knows nothing
// of the state machine: the daemon implements Backend.
package api

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hafw/hafw/hmd/events"
	"github.com/hafw/hafw/internal/humantime"
)

// Port is the TCP port of the remote (TLS) API on the health-monitor address.
const Port = 8443

// Failover and failback types, the seed's "Automatic" and "Manual".
const (
	Automatic = "automatic"
	Manual    = "manual"
)

// The overall states that are not HA states of a relationship.
const (
	// StateNone: the appliance may take no HA role (no role configured,
	// or an unactivated virtual appliance).
	StateNone = "NONE"
	// StateNotPaired: a secondary with no primary to back up. It stands
	// by for nobody, so calling it SECONDARY_ACTIVE would mislead; an
	// unpaired primary is PRIMARY_ACTIVE because it does serve.
	StateNotPaired = "NOT_PAIRED"
)

// Status is GET /v1/status: this appliance and one entry per paired peer —
// everything gethainfo prints and the management station's HA status page
// shows.
type Status struct {
	// Running is false when the status was read from the last saved
	// configuration because hmd is down.
	Running bool   `json:"running"`
	Role    string `json:"role"`
	// State is the one state of the serving relationship (else the
	// first): an HA state, StateNone for an appliance that may take no
	// role, or StateNotPaired for a secondary that backs up nobody.
	State           string `json:"state"`
	Hostname        string `json:"hostname"`
	HealthMonitorIP string `json:"health_monitor_ip"`
	VIP             string `json:"vip,omitempty"`
	Version         string `json:"version"`
	UDI             string `json:"udi"`
	Profile         string `json:"profile,omitempty"`
	// HARole is the role this appliance takes now (appliance.DecideRole):
	// the configured one, or none; RoleReason is why, as a stable code
	// (appliance.Reason). Empty when hmd is not running.
	HARole     string `json:"ha_role,omitempty"`
	RoleReason string `json:"role_reason,omitempty"`
	// CertFingerprint is the SHA-256 of this appliance's API certificate,
	// for an operator who wants to pin it instead of trusting on first use.
	CertFingerprint string       `json:"cert_fingerprint,omitempty"`
	Peers           []PeerStatus `json:"peers"`
	// Quarantined lists the damaged state files (events log, peer files)
	// hmd moved aside at start instead of refusing to run.
	Quarantined []string `json:"quarantined,omitempty"`
	// Applications are the service instance's applications (apps.go).
	Applications []AppStatus `json:"applications,omitempty"`
	// Firmware is the boot slots (upgrade.go); nil where they are unknown
	// (no boot partition mounted).
	Firmware *UpgradeStatus `json:"firmware,omitempty"`
}

// PeerStatus is one paired peer as this appliance sees it.
type PeerStatus struct {
	Name            string `json:"name"`
	HealthMonitorIP string `json:"health_monitor_ip"`
	DirectConnectIP string `json:"direct_connect_ip,omitempty"`
	// VIP is the primary's virtual IP (the same on both sides of a pair).
	VIP            string `json:"vip"`
	Version        string `json:"version"`
	UDI            string `json:"udi"`
	Profile        string `json:"profile,omitempty"`
	FailoverType   string `json:"failover_type"`
	FailbackType   string `json:"failback_type"`
	FailoverWaitMS int64  `json:"failover_wait_ms"`
	// HeartbeatIntervalMS is how often heartbeats are sent.
	HeartbeatIntervalMS int64 `json:"heartbeat_interval_ms"`
	// The instance names of the seed's gethainfo (the instance and
	// replication run under them).
	InstanceDBName    string `json:"instance_db_name"`
	InstanceDBPort    int    `json:"instance_db_port"`
	DataguardName     string `json:"dataguard_name"`
	PrimaryDBAlias    string `json:"primary_db_alias"`
	DirectConnect     bool   `json:"direct_connect"`
	Heartbeat         string `json:"heartbeat"` // "Up" or "Down"
	State             string `json:"state"`
	LastShutdownState string `json:"last_shutdown_state,omitempty"`
	// PeerState is the state the peer last reported in its heartbeats.
	PeerState string `json:"peer_state,omitempty"`
	// StatusText is the management station's "Status" row ("Active", …).
	StatusText      string  `json:"status"`
	DataReplication string  `json:"data_replication"`
	MeanHeartbeatMS float64 `json:"mean_heartbeat_response_ms"`
	OwnsVIP         bool    `json:"owns_vip"`
	// Witness is the health-monitor IP of the pair's witness, if any.
	Witness string `json:"witness,omitempty"`
	// Warnings are what the operator should fix in this pair's setup
	// (gethainfo, hactl status and the console print them).
	Warnings []string `json:"warnings,omitempty"`
	// AppFailure is why this node's application failed within the
	// hold-down (it is degraded: no automatic takeover, not handed the
	// service); PeerDegraded says the same of the peer.
	AppFailure   string `json:"app_failure,omitempty"`
	PeerDegraded bool   `json:"peer_degraded,omitempty"`
	// PeerHoldsVIP: the peer's heartbeats say it holds the VIP (false
	// while they are down: then nobody here knows).
	PeerHoldsVIP bool `json:"peer_holds_vip,omitempty"`
	// Syncing is set while the pair's initial data sync runs, SyncPercent
	// its progress.
	Syncing     bool `json:"syncing,omitempty"`
	SyncPercent int  `json:"sync_percent,omitempty"`
	// SyncRemainingS estimates the seconds the sync still needs, from
	// its pace so far (0: no estimate yet).
	SyncRemainingS float64 `json:"sync_remaining_s,omitempty"`
	Epoch          uint64  `json:"epoch"`
	// HeartbeatsReceived counts accepted heartbeats; Rejected counts the
	// refused ones by reason (forged, replayed, truncated, unknown peer, …).
	HeartbeatsReceived uint64            `json:"heartbeats_received"`
	Rejected           map[string]uint64 `json:"rejected,omitempty"`
	// HeartbeatPaths details each heartbeat path (hm, dc), by name.
	HeartbeatPaths []HeartbeatPath `json:"heartbeat_paths,omitempty"`
	// Replication is the live data replication as the node shipping it
	// sees it; absent on the standby side.
	Replication *Replication `json:"replication,omitempty"`
}

// HeartbeatPath is one heartbeat path to a peer. Requests counts the
// heartbeats sent on it that ask for a reply, Replies the timely replies:
// their difference is the path's loss.
type HeartbeatPath struct {
	Name      string  `json:"name"`
	Up        bool    `json:"up"`
	MeanRTTMS float64 `json:"mean_rtt_ms"`
	Requests  uint64  `json:"requests"`
	Replies   uint64  `json:"replies"`
}

// Replication details the data replication of a pair (package replicate).
type Replication struct {
	State    string `json:"state"` // Up, Setting up, Down
	Mode     string `json:"mode"`
	Percent  int    `json:"percent"`
	LastSeq  uint64 `json:"last_seq"`
	AckedSeq uint64 `json:"acked_seq"`
	Lag      uint64 `json:"lag"`
	// LagBytes and LagSeconds: the size of the unacknowledged entries and
	// the age of the oldest.
	LagBytes   uint64  `json:"lag_bytes"`
	LagSeconds float64 `json:"lag_seconds"`
	Reason     string  `json:"reason,omitempty"`
	Resent     uint64  `json:"resent"`
	Stalls     uint64  `json:"stalls"`
	// Protocol is the replication protocol version the two sides agreed
	// (they may run different firmware during a rolling upgrade).
	Protocol uint8 `json:"protocol,omitempty"`
}

// SyncText is the running sync's progress in words, as the console and
// hactl show it: "68 %, about 2 minutes left" ("" when none runs).
func (p PeerStatus) SyncText() string {
	if !p.Syncing {
		return ""
	}
	s := fmt.Sprintf("%d %%", p.SyncPercent)
	if p.SyncRemainingS > 0 {
		s += ", about " + humantime.Duration(time.Duration(p.SyncRemainingS*float64(time.Second))) + " left"
	}
	return s
}

// FailoverWait returns the peer's failover wait as a duration.
func (p PeerStatus) FailoverWait() time.Duration {
	return time.Duration(p.FailoverWaitMS) * time.Millisecond
}

// EventList is GET /v1/events.
type EventList struct {
	Events []events.Event `json:"events"`
}

// Duration is a JSON duration that accepts what a person or a form sends:
// a number of seconds (10, 0.5) or a Go duration string ("10s", "500ms").
// It encodes as a duration string.
type Duration time.Duration

// MarshalJSON encodes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// badDuration marks a value that was not a duration; validation reports it
// with the field's name, which a json.Unmarshaler error cannot carry.
const badDuration = Duration(math.MinInt64)

// UnmarshalJSON accepts seconds or a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	*d = badDuration
	var str string
	if json.Unmarshal(b, &str) == nil {
		if v, err := time.ParseDuration(strings.TrimSpace(str)); err == nil {
			*d = Duration(v)
		}
		return nil
	}
	var secs float64
	if json.Unmarshal(b, &secs) == nil && secs > -1e6 && secs < 1e6 {
		*d = Duration(secs * float64(time.Second))
	}
	return nil
}

// PairRequest is POST /v1/pair on a primary: the seed's "Configure High
// Availability Parameters" form of the management station.
type PairRequest struct {
	SecondaryName     string   `json:"secondary_name"`
	SecondaryIP       string   `json:"secondary_ip"`
	SecondaryPassword string   `json:"secondary_password"`
	FailoverType      string   `json:"failover_type"`
	FailbackType      string   `json:"failback_type"`
	LongFailoverWait  Duration `json:"long_failover_wait"`
	// HeartbeatInterval defaults to a fifth of the failover wait.
	HeartbeatInterval Duration `json:"heartbeat_interval,omitempty"`
	// SecondaryFingerprint pins the secondary's certificate. It is
	// required unless TrustOnFirstUse: the request hands the secondary
	// its own password, the pairing secret and the witness password, so
	// an impostor at the secondary's address must not be trusted by
	// default.
	SecondaryFingerprint string `json:"secondary_fingerprint,omitempty"`
	WitnessRef
	// TrustOnFirstUse pins whatever certificates the secondary and the
	// witness present now in place of missing fingerprints: the operator's
	// explicit choice, for a lab or a script that cannot read them first.
	TrustOnFirstUse bool `json:"trust_on_first_use,omitempty"`
}

// WitnessRef names the witness a secondary asks before an automatic
// takeover: any hmd on the health-monitor subnet (the management
// station's, or in N:1 the other primary), with its appliance password
// and optionally its pinned certificate. It belongs to the pairing
// because each relationship has its own: in N:1 each primary is the other
// one's witness.
type WitnessRef struct {
	Witness            string `json:"witness,omitempty"`
	WitnessPassword    string `json:"witness_password,omitempty"`
	WitnessFingerprint string `json:"witness_fingerprint,omitempty"`
}

// PeerPairRequest is POST /v1/peer/pair, sent by a primary to its future
// secondary over TLS with the secondary's password.
type PeerPairRequest struct {
	PrimaryName     string `json:"primary_name"`
	PrimaryHIP      string `json:"primary_hip"`
	PrimaryDirectIP string `json:"primary_direct_ip,omitempty"`
	VIP             string `json:"vip"`
	Version         string `json:"version"`
	UDI             string `json:"udi"`
	Profile         string `json:"profile"`
	PairSettings
	// Secret is the random pairing secret (base64, 32 bytes) both sides
	// derive the heartbeat key from; it travels only inside TLS.
	Secret string `json:"secret"`
}

// PeerPairResponse is the secondary's answer to PeerPairRequest.
type PeerPairResponse struct {
	Name     string `json:"name"`
	HIP      string `json:"hip"`
	DirectIP string `json:"direct_ip,omitempty"`
	Version  string `json:"version"`
	UDI      string `json:"udi"`
	Profile  string `json:"profile"`
	// InstanceSlot numbers this pair's service instance on the secondary
	// (mseos<slot>, port 1521+slot, as in the seed's gethainfo).
	InstanceSlot int `json:"instance_slot"`
}

// PeerRequest is POST /v1/switchover, /v1/failback and /v1/unpair. Peer
// names the peer by its health-monitor IP and may be empty when the
// appliance has exactly one. Force skips the stabilization window the seed
// asks for between a failover and a failback; for unpair it deletes the
// pairing locally even when the peer cannot be told.
type PeerRequest struct {
	Peer  string `json:"peer,omitempty"`
	Force bool   `json:"force,omitempty"`
}

// Result is the body of a successful operation.
type Result struct {
	Message string `json:"message"`
}
