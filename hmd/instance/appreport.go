package instance

import (
	"net/netip"
	"time"

	"github.com/hafw/hafw/hmd/api"
)

// AppFailureSink receives the application policy's verdict for the
// pairing whose instance this node serves (the daemon implements it and
// steps the state machine with ha.AppFailed).
type AppFailureSink interface {
	AppFailed(peer netip.Addr, reason string)
}

// appReport routes the applications' reports to the slot being served.
type appReport struct{ s *Service }

func (r appReport) AppEvent(description, remarks string) {
	r.s.event(r.s.servingSlot(), description, remarks)
}

func (r appReport) AppFailed(reason string) {
	s := r.s
	s.mu.Lock()
	sink, _ := s.events.(AppFailureSink)
	s.mu.Unlock()
	if n := s.servingSlot(); sink != nil && n != 0 {
		sink.AppFailed(s.peerOf(n), reason)
	}
}

func (s *Service) servingSlot() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serving
}

// Applications implements the daemon's application monitor: the status
// of every application of the instance.
func (h *InstanceHook) Applications() []api.AppStatus { return h.s.apps.Status() }

// ResetApplications forgets the failures of application name (every one
// when empty); an unknown name is ErrUnknownApp.
func (h *InstanceHook) ResetApplications(name string) error { return h.s.apps.Reset(name) }

// AppHoldDown is how long an application failure keeps this node
// degraded (the applications file's policy).
func (s *Service) AppHoldDown() time.Duration { return time.Duration(s.opt.Apps.Policy.HoldDown) }
