package api

import (
	"context"
	"net/http"
	"net/url"
)

// The witness vote (split brain): before a secondary takes over
// from a silent primary it asks a third node — the management station, the
// other primary of an N:1 group, or any hafw appliance on the LAN — whether
// that node still hears the primary. A secondary whose heartbeats alone are
// cut then does not steal the VIP from a primary that is alive.

// WitnessAnswer is GET /v1/witness?peer=IP.
type WitnessAnswer struct {
	Peer string `json:"peer"`
	// Hears is true when the peer's hmd answered the witness just now.
	Hears bool `json:"hears"`
	// Detail says what the witness tried, for the asking node's log.
	Detail string `json:"detail,omitempty"`
}

// WitnessBackend is implemented by a backend that can serve as a witness;
// NewHandler serves GET /v1/witness only then.
type WitnessBackend interface {
	Witness(ctx context.Context, peer string) (WitnessAnswer, error)
}

func (h *handler) witnessRoutes(mux *http.ServeMux, b WitnessBackend) {
	mux.HandleFunc("GET /v1/witness", h.admin(func(w http.ResponseWriter, r *http.Request) {
		peer := r.URL.Query().Get("peer")
		var fe []FieldError
		checkAddr("peer", peer, true, &fe)
		if len(fe) > 0 {
			h.fail(w, r, Invalid(fe...))
			return
		}
		ans, err := b.Witness(r.Context(), peer)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.reply(w, ans)
	}))
}

// Witness is GET /v1/witness: does this node hear the hmd at peer?
func (c *Client) Witness(ctx context.Context, peer string) (WitnessAnswer, error) {
	var a WitnessAnswer
	err := c.do(ctx, http.MethodGet, "/v1/witness?"+url.Values{"peer": {peer}}.Encode(), nil, &a)
	return a, err
}
