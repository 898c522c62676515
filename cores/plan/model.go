// Package plan is the pure core of horizontal core failover (the second
// seed, "NCM core failover in a horizontal scalability environment"): the
// model of cores, tasks and options, and the decisions — when a stopped
// core is failed over, and which of its tasks go where. It knows nothing of
// etcd, clocks or processes; the store in the parent package feeds it
// snapshots and applies what it returns, so every rule of the seed is a
// table test here.
package plan

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Role is what a core is reserved for. The seed distinguishes cores that run
// device tasks, cores reserved for user interaction only, and cores reserved
// for local device tasks; failover treats them differently per topology.
type Role string

// Core roles.
const (
	RoleDevice          Role = "device"
	RoleUserInteraction Role = "user-interaction"
	RoleLocalDevice     Role = "local-device"
)

// ParseRole accepts the names above.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleDevice, RoleUserInteraction, RoleLocalDevice:
		return r, nil
	}
	return "", fmt.Errorf("unknown core role %q (want device, user-interaction or local-device)", s)
}

// Core is one registered core. Lease is the etcd lease of its current (or
// last) incarnation; it identifies the incarnation, so a failover is done at
// most once per incarnation and a core that restarts is a new incarnation.
type Core struct {
	Num   int    `json:"num"`
	Name  string `json:"name"`
	Role  Role   `json:"role"`
	Lease int64  `json:"lease"`
}

// Status of a task, with the seed's names.
type Status string

// Task statuses.
const (
	Pending   Status = "Pending"
	Waiting   Status = "Waiting"
	Running   Status = "Running"
	Succeeded Status = "Succeeded"
	Failed    Status = "Failed"
	Paused    Status = "Paused"
)

// ParseStatus accepts a status name, case-insensitively.
func ParseStatus(s string) (Status, error) {
	for _, st := range []Status{Pending, Waiting, Running, Succeeded, Failed, Paused} {
		if strings.EqualFold(string(st), s) {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown task status %q", s)
}

// Terminal reports whether a task in this status will not run again by itself.
func (s Status) Terminal() bool { return s == Succeeded || s == Failed }

// FailureType says why a task failed; the operator searches by it.
type FailureType string

// Failure types.
const (
	NoFailure     FailureType = ""
	CoreDown      FailureType = "Core Down"
	CommandFailed FailureType = "Command Failed"
)

// Task is one unit of scheduled work. A group task (Children non-empty) is
// never executed itself: its status follows its children.
type Task struct {
	ID        string      `json:"id"`
	Command   []string    `json:"command,omitempty"`
	Schedule  time.Time   `json:"schedule"`
	Retries   int         `json:"retries"`
	Status    Status      `json:"status"`
	Failure   FailureType `json:"failure,omitempty"`
	Core      int         `json:"core"`
	Partition string      `json:"partition,omitempty"`
	Parent    string      `json:"parent,omitempty"`
	Children  []string    `json:"children,omitempty"`
	Critical  bool        `json:"critical,omitempty"`
	// ClaimLease is the lease of the core incarnation that claimed the task
	// (set while Running), so a restarted core recognises its own orphans.
	ClaimLease int64     `json:"claim_lease,omitempty"`
	Started    time.Time `json:"started,omitzero"`
	Finished   time.Time `json:"finished,omitzero"`
	Output     string    `json:"output,omitempty"`
}

// IsGroup reports whether the task is a group task.
func (t Task) IsGroup() bool { return len(t.Children) > 0 }

// Validate checks a task before it is stored.
func (t Task) Validate() error {
	switch {
	case t.ID == "" || strings.ContainsAny(t.ID, "/ \t\n"):
		return fmt.Errorf("task id %q: must be non-empty without '/' or spaces", t.ID)
	case !t.IsGroup() && len(t.Command) == 0:
		return fmt.Errorf("task %s: a task that is not a group needs a command", t.ID)
	case t.Retries < 0:
		return fmt.Errorf("task %s: retries %d is negative", t.ID, t.Retries)
	case t.Core < 1:
		return fmt.Errorf("task %s: core %d is not a core number", t.ID, t.Core)
	}
	if _, err := ParseStatus(string(t.Status)); err != nil {
		return fmt.Errorf("task %s: %w", t.ID, err)
	}
	return nil
}

// Topology is how work is spread over cores.
type Topology string

// Topologies of the seed.
const (
	RoundRobin  Topology = "round-robin"
	CoreBinding Topology = "core-binding"
)

// DefaultMaintenanceWindow is the seed's wait after a normal shutdown.
const DefaultMaintenanceWindow = 30 * time.Minute

// Options are the cluster-wide settings (the seed's distributed.rcx options,
// synchronised to every core — "reload server options").
type Options struct {
	// EnableAutoFailover is distributed/enable_auto_failover; default true.
	EnableAutoFailover bool     `json:"enable_auto_failover"`
	Topology           Topology `json:"topology"`
	// MaintenanceWindow is how long the other cores wait after a normal
	// shutdown before failing the core over (Wait B in the seed).
	MaintenanceWindow Duration `json:"maintenance_window"`
	// Overrides is distributed/bind_to_core_override_N: core N fails over
	// to the first running eligible core of the list, in order.
	Overrides map[int][]int `json:"bind_to_core_override,omitempty"`
}

// DefaultOptions are the seed's defaults: failover on, 30 minutes.
func DefaultOptions() Options {
	return Options{EnableAutoFailover: true, Topology: RoundRobin, MaintenanceWindow: Duration(DefaultMaintenanceWindow)}
}

// Validate checks options before they are stored.
func (o Options) Validate() error {
	if o.Topology != RoundRobin && o.Topology != CoreBinding {
		return fmt.Errorf("topology %q: want round-robin or core-binding", o.Topology)
	}
	if o.MaintenanceWindow < 0 {
		return fmt.Errorf("maintenance window %v is negative", time.Duration(o.MaintenanceWindow))
	}
	for n, list := range o.Overrides {
		if n < 1 {
			return fmt.Errorf("bind_to_core_override_%d: not a core number", n)
		}
		for _, c := range list {
			if c < 1 || c == n {
				return fmt.Errorf("bind_to_core_override_%d: target %d is invalid", n, c)
			}
		}
	}
	return nil
}

// ParseOverride parses the value of bind_to_core_override_N, e.g. "4,2".
func ParseOverride(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("override %q: %q is not a core number", s, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// Duration is a time.Duration that reads and writes as "30m0s" in JSON.
type Duration time.Duration

// MarshalText writes the duration in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText parses Go duration syntax.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parsing duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// ErrNoTarget is returned when no running core may take a stopped core's
// tasks; the seed then performs no failover.
var ErrNoTarget = errors.New("no running core can take the tasks")
