package appliance

import (
	"fmt"

	"github.com/hafw/hafw/config"
)

// Reason is why a Decision gives the role it gives. The zero Reason is
// Configured: a node never told otherwise is eligible.
type Reason int

// The reasons, eligible ones first.
const (
	// Configured: the configured role is taken.
	Configured Reason = iota
	// RecoveryComplete: recovery mode was asked for, but a pairing is
	// stored (restored from the secondary, or never lost): the configured
	// role is taken, so that a supervisor that keeps passing hafw.recovery
	// does not throw the restored pairing away.
	RecoveryComplete
	// NoRoleConfigured: the configuration's role is none.
	NoRoleConfigured
	// Recovery: recovery mode, no pairing stored: no role until the
	// secondary restores this primary's pairing.
	Recovery
	// IdentityUnknown: the profile could not be resolved, so no license
	// can be verified and no pairing matrix applied.
	IdentityUnknown
	// NotActivated: a virtual appliance without its activation license.
	NotActivated
)

var reasonCodes = []string{"configured", "recovery-complete", "no-role-configured", "recovery", "identity-unknown", "not-activated"}

// String is the reason's stable code (status fields, metrics, logs), as
// the heartbeat package's Reason names its rejects.
func (r Reason) String() string {
	if int(r) < 0 || int(r) >= len(reasonCodes) {
		return fmt.Sprintf("reason(%d)", int(r))
	}
	return reasonCodes[r]
}

// Text explains the reason to an operator.
func (r Reason) Text() string {
	switch r {
	case Configured:
		return "the configured role"
	case RecoveryComplete:
		return "recovery mode requested, but a pairing is stored: recovery is complete"
	case NoRoleConfigured:
		return "no HA role configured"
	case Recovery:
		return "recovery mode: waiting for the secondary to restore this primary's pairing"
	case IdentityUnknown:
		return "appliance identity unknown (no hardware profile)"
	case NotActivated:
		return "virtual appliance not activated"
	}
	return r.String()
}

// Eligible reports whether the reason lets the appliance take its role.
func (r Reason) Eligible() bool { return r == Configured || r == RecoveryComplete }

// MarshalText writes the code, so that saved state and JSON read well.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a code written by MarshalText.
func (r *Reason) UnmarshalText(b []byte) error {
	for i, c := range reasonCodes {
		if c == string(b) {
			*r = Reason(i)
			return nil
		}
	}
	return fmt.Errorf("unknown role reason %q", b)
}

// Decision is the HA role this appliance takes and why.
type Decision struct {
	Role   config.Role
	Reason Reason
	// Recovery is set in recovery mode: no role, and hmd accepts this
	// primary's pairing back from its secondary.
	Recovery bool
}

// Eligible reports whether the appliance may take an HA role at all.
func (d Decision) Eligible() bool { return d.Reason.Eligible() && d.Role != config.RoleNone }

// String is the operator's line: "HA role: none (reason: virtual
// appliance not activated)".
func (d Decision) String() string {
	return fmt.Sprintf("HA role: %s (reason: %s)", d.Role, d.Reason.Text())
}

// DecideRole is the one rule for the HA role an appliance takes: recovery
// mode with no stored pairing takes none (and is recovery); a
// configuration without a role takes none; an appliance whose identity is
// unknown, or that is not activated, takes none; otherwise the configured
// role. recovery is hafw.recovery for this boot (the configuration's
// recovery mode is read from cfg); storedPairing says hmd's state holds a
// pairing. It is pure: the callers gather the inputs.
func DecideRole(cfg config.Appliance, ent Entitlement, recovery, storedPairing bool) Decision {
	recovering := recovery || cfg.RecoveryMode
	switch {
	case recovering && !storedPairing:
		return Decision{Role: config.RoleNone, Reason: Recovery, Recovery: true}
	case cfg.Role == config.RoleNone || cfg.Role == "":
		return Decision{Role: config.RoleNone, Reason: NoRoleConfigured}
	case !ent.Known:
		return Decision{Role: config.RoleNone, Reason: IdentityUnknown}
	case !ent.Activated():
		return Decision{Role: config.RoleNone, Reason: NotActivated}
	case recovering:
		return Decision{Role: cfg.Role, Reason: RecoveryComplete}
	}
	return Decision{Role: cfg.Role, Reason: Configured}
}
