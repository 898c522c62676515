package notify

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hafw/hafw/config"
)

// TargetSyslog is the rule target of the remote syslog collector; a trap
// destination is "trap:" + its name.
const TargetSyslog = "syslog"

// Rule is one event notification rule (seed 002: NCM users set event
// notification rules on core events): the events it selects go to its
// target. An empty selector selects everything.
type Rule struct {
	Name string `json:"name"`
	// Types selects event types; empty: all.
	Types []Type `json:"types,omitempty"`
	// Cores selects horizontal-mode events by core name; empty: events of
	// any core and events that concern no core.
	Cores []string `json:"cores,omitempty"`
	// MinSeverity selects events at least this severe; 0: all.
	MinSeverity Severity `json:"min_severity,omitempty"`
	// Target is "trap:NAME" or "syslog".
	Target string `json:"target"`
}

// Matches reports whether r selects e.
func (r Rule) Matches(e Event) bool {
	if len(r.Types) > 0 && !slices.Contains(r.Types, e.Type) {
		return false
	}
	if len(r.Cores) > 0 && !slices.Contains(r.Cores, e.Core) {
		return false
	}
	return e.Severity >= r.MinSeverity
}

// validateRules checks rules against the destinations that exist.
func validateRules(rules []Rule, dests []Destination, syslog *Syslog) error {
	var errs config.ValidationError
	bad := func(i int, field, format string, args ...any) {
		errs = append(errs, &config.FieldError{Field: fmt.Sprintf("rules[%d].%s", i, field), Reason: fmt.Sprintf(format, args...)})
	}
	seen := map[string]bool{}
	for i, r := range rules {
		if !nameRE.MatchString(r.Name) {
			bad(i, "name", "%q must be 1 to 32 letters, digits, dots, dashes or underscores", r.Name)
		} else if seen[r.Name] {
			bad(i, "name", "%q is used twice", r.Name)
		}
		seen[r.Name] = true
		for _, t := range r.Types {
			if _, err := ParseType(string(t)); err != nil {
				bad(i, "types", "%v", err)
			}
		}
		if r.MinSeverity != 0 && (r.MinSeverity < Info || r.MinSeverity > Critical) {
			bad(i, "min_severity", "%d: want 1 (info), 2 (warning) or 3 (critical)", r.MinSeverity)
		}
		name, isTrap := strings.CutPrefix(r.Target, "trap:")
		switch {
		case r.Target == TargetSyslog && syslog != nil:
		case r.Target == TargetSyslog:
			bad(i, "target", "no syslog collector is configured")
		case isTrap && slices.ContainsFunc(dests, func(d Destination) bool { return d.Name == name }):
		case isTrap:
			bad(i, "target", "no trap destination is named %q", name)
		default:
			bad(i, "target", "%q: want trap:NAME or syslog", r.Target)
		}
	}
	if errs != nil {
		return errs
	}
	return nil
}

// targets are the outlets e goes to: every matching rule's target, or
// with no rules at all every outlet.
func targets(rules []Rule, outlets []string, e Event) []string {
	if len(rules) == 0 {
		return outlets
	}
	var out []string
	for _, r := range rules {
		if r.Matches(e) && slices.Contains(outlets, r.Target) && !slices.Contains(out, r.Target) {
			out = append(out, r.Target)
		}
	}
	return out
}
