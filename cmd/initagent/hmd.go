package main

import (
	"context"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/initagent"
)

// hmdClient answers the init agent's status questions with hmd's local
// API: the agent owns the interface, the HTTP API stays out of it.
type hmdClient struct{ c *api.Client }

var _ initagent.HMD = hmdClient{}

// Status implements initagent.HMD.
func (h hmdClient) Status(ctx context.Context) (initagent.HMDStatus, error) {
	st, err := h.c.Status(ctx)
	if err != nil {
		return initagent.HMDStatus{}, err
	}
	return agentStatus(st), nil
}

// agentStatus is the part of hmd's status the init agent reads.
func agentStatus(st api.Status) initagent.HMDStatus {
	s := initagent.HMDStatus{Running: st.Running, Role: config.Role(st.Role), State: st.State, HARole: st.HARole}
	for _, p := range st.Peers {
		s.PeerProfiles = append(s.PeerProfiles, p.Profile)
	}
	return s
}
