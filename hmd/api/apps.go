package api

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
)

// AppStatus is one application of the service instance as GET /v1/status
// shows it: its process (the supervisor's state, restarts, last exit),
// its health check and the failures the policy counts.
type AppStatus struct {
	Name string `json:"name"`
	// State is the supervisor's (starting, running, backoff, stopped, …)
	// or "dormant" on a node that does not serve.
	State    string `json:"state"`
	PID      int    `json:"pid,omitempty"`
	Restarts int    `json:"restarts"`
	LastExit string `json:"last_exit,omitempty"`
	// Health is "healthy", "unhealthy", "unknown" (not yet Rise
	// successes) or "" when the application has no check.
	Health    string `json:"health,omitempty"`
	Check     string `json:"check,omitempty"`
	LastCheck string `json:"last_check,omitempty"`
	// Failures counts restarts and failed checks within the policy's
	// window; MaxFailures of them hand the service to the peer.
	Failures    int    `json:"failures"`
	MaxFailures int    `json:"max_failures"`
	LastFailure string `json:"last_failure,omitempty"`
}

// AppsResetRequest is POST /v1/apps/reset: the operator says the
// application (Name, or every one when empty) is repaired. Its failure
// count is forgotten and this node is no longer degraded.
type AppsResetRequest struct {
	Name string `json:"name,omitempty"`
}

func (r *AppsResetRequest) validate() []FieldError {
	if r.Name != "" && !appName.MatchString(r.Name) {
		return []FieldError{{Field: "name", Reason: fmt.Sprintf("%q is not an application name", r.Name)}}
	}
	return nil
}

var appName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// AppsBackend is implemented by a backend that monitors applications;
// NewHandler serves POST /v1/apps/reset only then. An unknown application
// is an error on field "name".
type AppsBackend interface {
	ResetApps(ctx context.Context, req AppsResetRequest) (Result, error)
}

func (h *handler) appsRoutes(mux *http.ServeMux, b AppsBackend) {
	mux.HandleFunc("POST /v1/apps/reset", h.admin(operation[AppsResetRequest](h, b.ResetApps)))
}

// ResetApps is POST /v1/apps/reset.
func (c *Client) ResetApps(ctx context.Context, req AppsResetRequest) (Result, error) {
	var r Result
	err := c.do(ctx, http.MethodPost, "/v1/apps/reset", req, &r)
	return r, err
}
