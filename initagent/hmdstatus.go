package initagent

import (
	"context"
	"errors"

	"github.com/hafw/hafw/config"
)

// HMD is the running hmd as the init agent asks it: only its status, read
// for the pairing check at boot and for the health of a slot on trial. The
// agent owns this small interface so that it does not depend on hmd's HTTP
// API; the main wires hmd's local API client to it (cmd/initagent).
type HMD interface {
	Status(ctx context.Context) (HMDStatus, error)
}

// HMDStatus is the part of hmd's status the init agent reads.
type HMDStatus struct {
	// Running is set when hmd's loop runs (not only its stored view).
	Running bool
	Role    config.Role
	// State is the overall HA state (PRIMARY_ACTIVE, …, NONE when the
	// appliance takes no role, NOT_PAIRED for a secondary without peers).
	State string
	// HARole is the role hmd decided the appliance may take (appliance.
	// DecideRole): "none" for an appliance that may take none, such as an
	// unactivated virtual appliance, whatever its configured Role.
	HARole string
	// PeerProfiles are the model names of the peers hmd knows, one per
	// peer; "" where a peer's model is not known yet.
	PeerProfiles []string
}

// errNoHMD is the status of an agent given no HMD: nothing can be asked.
var errNoHMD = errors.New("no hmd status client")

// hmdStatus asks the agent's HMD, if it has one.
func (a *Agent) hmdStatus(ctx context.Context) (HMDStatus, error) {
	if a.HMD == nil {
		return HMDStatus{}, errNoHMD
	}
	return a.HMD.Status(ctx)
}
