// Package notify tells the operators' systems what happened on the
// appliance: every operator-relevant event (an HA state change, a failover,
// a split brain, lost heartbeats, replication, licenses, the horizontal
// mode's core events) becomes an Event, which a Service fans out to SNMP
// trap destinations and to syslog through bounded queues.
//
// The HA event loop hands events over with Publish, which never blocks: each
// sink has its own queue and its own goroutine, and a full queue drops its
// oldest event and counts the drop. A dead trap receiver therefore costs
// failover nothing, and a slow one delays only its own notifications.
//
// Which events reach which sink is decided by the notification rules (the
// seed's "event notification rules"); without rules every event goes to
// every sink.
package notify

import (
	"fmt"
	"strings"
	"time"
)

// Type is the kind of an event; each has its notification in HAFW-MIB.
type Type string

// The event types. Their MIB notification is "hafw" + the camel-cased type
// (TypeFailoverCompleted is hafwFailoverCompleted).
const (
	TypeStateChange        Type = "ha-state-change"
	TypeFailoverStarted    Type = "failover-started"
	TypeFailoverCompleted  Type = "failover-completed"
	TypeFailbackStarted    Type = "failback-started"
	TypeFailbackCompleted  Type = "failback-completed"
	TypeSplitBrainDetected Type = "split-brain-detected"
	TypeSplitBrainRepaired Type = "split-brain-repaired"
	TypeHeartbeatDown      Type = "heartbeat-down"
	TypeHeartbeatUp        Type = "heartbeat-up"
	TypeReplicationDown    Type = "replication-down"
	TypeReplicationUp      Type = "replication-up"
	TypeSyncComplete       Type = "sync-complete"
	TypeLicenseExpiring    Type = "license-expiring"
	TypeLicenseExpired     Type = "license-expired"
	TypeLicenseInvalid     Type = "license-invalid"
	TypeUpgradeCommitted   Type = "upgrade-committed"
	TypeUpgradeRolledBack  Type = "upgrade-rolled-back"
	TypeCoreDown           Type = "core-down"
	TypeTaskFailover       Type = "task-failover"
	TypeApplicationFailure Type = "application-failure"
	TypeTest               Type = "test"
)

// Types lists every event type, in MIB order (the notification's last
// arc is its index plus one).
func Types() []Type {
	return []Type{TypeStateChange, TypeFailoverStarted, TypeFailoverCompleted, TypeFailbackStarted,
		TypeFailbackCompleted, TypeSplitBrainDetected, TypeSplitBrainRepaired, TypeHeartbeatDown,
		TypeHeartbeatUp, TypeReplicationDown, TypeReplicationUp, TypeSyncComplete, TypeLicenseExpiring,
		TypeLicenseExpired, TypeLicenseInvalid, TypeUpgradeCommitted, TypeUpgradeRolledBack, TypeCoreDown,
		TypeTaskFailover, TypeApplicationFailure, TypeTest}
}

// ParseType checks a type name given by an operator.
func ParseType(s string) (Type, error) {
	for _, t := range Types() {
		if string(t) == s {
			return t, nil
		}
	}
	return "", fmt.Errorf("unknown event type %q", s)
}

// MIBName is the type's notification name in HAFW-MIB.
func (t Type) MIBName() string {
	var b strings.Builder
	b.WriteString("hafw")
	for _, part := range strings.Split(string(t), "-") {
		if part == "ha" {
			b.WriteString("HA")
			continue
		}
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// Severity ranks events; rules select by minimum severity.
type Severity int

// The severities, the MIB's HafwSeverity values.
const (
	Info     Severity = 1
	Warning  Severity = 2
	Critical Severity = 3
)

func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	case Critical:
		return "critical"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// ParseSeverity reads "info", "warning" or "critical".
func ParseSeverity(s string) (Severity, error) {
	for _, v := range []Severity{Info, Warning, Critical} {
		if v.String() == s {
			return v, nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want info, warning or critical)", s)
}

// Syslog is the RFC 5424 severity of s.
func (s Severity) Syslog() int {
	switch s {
	case Critical:
		return 2 // critical
	case Warning:
		return 4 // warning
	}
	return 6 // informational
}

// Event is one notification.
type Event struct {
	Time     time.Time `json:"time"`
	Type     Type      `json:"type"`
	Severity Severity  `json:"severity"`
	// Node is the appliance (or core) that saw it.
	Node string `json:"node"`
	// Peer is the peer's health-monitor IP, "" for the appliance itself.
	Peer string `json:"peer,omitempty"`
	// Core names the core of a horizontal-mode event.
	Core string `json:"core,omitempty"`
	// OldState and NewState are HA states (state changes only).
	OldState string `json:"old_state,omitempty"`
	NewState string `json:"new_state,omitempty"`
	// Text says what happened, Reason why (the remarks).
	Text   string `json:"text"`
	Reason string `json:"reason,omitempty"`
}

// String is the one-line form syslog and the logs carry.
func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", e.Severity, e.Type, e.Text)
	if e.OldState != "" || e.NewState != "" {
		fmt.Fprintf(&b, " (%s -> %s)", e.OldState, e.NewState)
	}
	if e.Peer != "" {
		fmt.Fprintf(&b, " peer=%s", e.Peer)
	}
	if e.Core != "" {
		fmt.Fprintf(&b, " core=%s", e.Core)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, " reason=%q", e.Reason)
	}
	return b.String()
}
