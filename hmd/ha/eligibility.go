package ha

import "github.com/hafw/hafw/appliance"

// Event descriptions of the appliance's eligibility for an HA role.
const (
	MsgRoleWithdrawn = "HA role withdrawn"
	MsgRoleGranted   = "HA role granted"
	// peerIneligible is why the service is not handed to the peer.
	peerIneligible = "the peer may take no HA role (its heartbeats say so; see its status's role_reason)"
)

// Eligibility is appliance.DecideRole's verdict for this appliance. hmd
// gives it after Started (or New) when the appliance may take no role, and
// again whenever the verdict changes (a license installed or removed). It
// is an event, not configuration, because the verdict changes at run time
// and the machine alone decides who holds the VIP: an ineligible node hands
// over the VIP it holds and claims none until it is eligible again.
type Eligibility struct{ Reason appliance.Reason }

func (Eligibility) isEvent() {}

// mayServe reports whether this node may take the VIP.
func (s *stepper) mayServe() bool { return s.n.Ineligible.Eligible() }

// roleNone is the operator's line for an ineligible node.
func (s *stepper) roleNone() string {
	return "HA role: none (" + s.n.Ineligible.Text() + ")"
}

func (s *stepper) eligibility(e Eligibility) {
	if e.Reason.Eligible() {
		if s.mayServe() {
			return
		}
		was := s.roleNone()
		s.n.Ineligible = appliance.Configured
		s.n.Notice = ""
		s.event(MsgRoleGranted, e.Reason.Text()+"; was "+was)
		s.do(SendState{})
		return
	}
	if s.n.Ineligible == e.Reason {
		return
	}
	s.n.Ineligible = e.Reason
	s.event(MsgRoleWithdrawn, s.roleNone())
	s.n.Claim = Claim{}
	switch {
	case s.n.HoldsVIP && s.role() == Primary:
		// Hand over as a switchover does: the secondary takes the VIP
		// the primary released.
		s.release()
		s.set(FailoverInvoked)
		s.n.LastFailover = s.now
		s.event(MsgFailoverShutdown, s.roleNone())
	case s.n.HoldsVIP:
		// The primary, TERMINATED, serves again once the secondary stands
		// by for a whole failover wait.
		s.release()
		s.set(SecondaryActive)
	default:
		s.standBy()
	}
	s.do(SendState{})
}

// refuseIneligible logs (once) why an ineligible node claims nothing, drops
// the claim, stands by visibly so that the peer serves, and reports whether
// it refused.
func (s *stepper) refuseIneligible() bool {
	if s.mayServe() {
		return false
	}
	s.notice(MsgTakeoverRefused, s.roleNone())
	s.n.Claim = Claim{}
	s.standBy()
	return true
}

// standBy moves a node that holds nothing out of the states in which its
// peer waits for it to claim: a primary to TERMINATED (its secondary takes
// over), a secondary to SECONDARY_ACTIVE (its primary serves again).
func (s *stepper) standBy() {
	if s.n.HoldsVIP {
		return
	}
	switch {
	case s.role() == Primary && (s.n.State == StateInitializing || s.n.State == FailbackActive || s.n.State == FailbackComplete):
		s.set(Terminated)
		s.do(SendState{})
	case s.role() == Secondary && (s.n.State == FailoverInvoked || s.n.State == StateInitializing):
		s.set(SecondaryActive)
		s.do(SendState{})
	}
}
