package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/hmd/instance"
	"github.com/hafw/hafw/hmd/refusal"
)

// AppMonitor is implemented by an Instance that supervises and checks its
// applications (instance.InstanceHook).
type AppMonitor interface {
	Applications() []api.AppStatus
	ResetApplications(name string) error
}

var _ AppMonitor = (*instance.InstanceHook)(nil)

// AppFailed implements instance.AppFailureSink: the application policy
// tripped on the instance this node serves for peer; the state machine
// decides what follows.
func (d *Daemon) AppFailed(peer netip.Addr, reason string) {
	d.post(peer, ha.AppFailed{Reason: reason})
}

// applications is the status of the instance's applications (none
// without an application monitor).
func (d *Daemon) applications() []api.AppStatus {
	if m, ok := d.opt.Instance.(AppMonitor); ok {
		return m.Applications()
	}
	return nil
}

// ResetApps implements api.AppsBackend: the operator says the application
// is repaired. Its failures are forgotten and every relationship of this
// node stops being degraded.
func (d *Daemon) ResetApps(ctx context.Context, req api.AppsResetRequest) (api.Result, error) {
	m, ok := d.opt.Instance.(AppMonitor)
	if !ok {
		return api.Result{}, invalid(refusal.UnknownApp, "name", "this appliance runs no applications")
	}
	if err := m.ResetApplications(req.Name); err != nil {
		if errors.Is(err, instance.ErrUnknownApp) {
			return api.Result{}, invalid(refusal.UnknownApp, "name", "%v", err)
		}
		return api.Result{}, err
	}
	return call(ctx, d, func() (api.Result, error) {
		for i := range d.peers {
			d.step(i, ha.AppCleared{})
		}
		what := "every application"
		if req.Name != "" {
			what = req.Name
		}
		return api.Result{Message: fmt.Sprintf("Application state cleared: %s", what)}, nil
	})
}
