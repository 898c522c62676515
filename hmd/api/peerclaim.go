package api

import (
	"context"
	"net/http"
)

// VIPClaim is GET /v1/peer/claim: what this node says of the virtual IP of
// its pair with the asking peer. A primary that sees ARP answers for its
// VIP from what looks like its peer, while heartbeats are silent, asks
// this before it yields: ARP is spoofable by anyone on the LAN, this
// answer comes only from the paired node (pinned certificates both ways).
type VIPClaim struct {
	HoldsVIP bool   `json:"holds_vip"`
	Epoch    uint64 `json:"epoch"`
	State    string `json:"state"`
}

// PeerClaimBackend is implemented by a backend that answers its paired
// peers about the VIP; NewHandler serves GET /v1/peer/claim only then.
// peerFP is the asking node's client certificate fingerprint: only a
// paired peer gets an answer.
type PeerClaimBackend interface {
	PeerClaim(ctx context.Context, peerFP string) (VIPClaim, error)
}

// peerClaimRoutes: authenticated by the pinned client certificate alone,
// like peer/unpair (the peer does not know our password after pairing).
func (h *handler) peerClaimRoutes(mux *http.ServeMux, b PeerClaimBackend) {
	mux.HandleFunc("GET /v1/peer/claim", func(w http.ResponseWriter, r *http.Request) {
		fp, ok := h.peerCertificate(w, r)
		if !ok {
			return
		}
		claim, err := b.PeerClaim(r.Context(), fp)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.reply(w, claim)
	})
}

// PeerClaim is GET /v1/peer/claim: does the peer hold our pair's VIP?
func (c *Client) PeerClaim(ctx context.Context) (VIPClaim, error) {
	var v VIPClaim
	err := c.do(ctx, http.MethodGet, "/v1/peer/claim", nil, &v)
	return v, err
}
