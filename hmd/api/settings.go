package api

import (
	"context"
	"net/http"
	"time"
)

// PairSettings are what both sides of a pair keep and must agree on: the
// failover and failback modes, the timing and the witness. The timing is
// in exact milliseconds so that both sides hold the same values. Pairing
// sends them to the secondary; a settings update sends them, complete, to
// the peer.
type PairSettings struct {
	FailoverType        string `json:"failover_type"`
	FailbackType        string `json:"failback_type"`
	FailoverWaitMS      int64  `json:"failover_wait_ms"`
	HeartbeatIntervalMS int64  `json:"heartbeat_interval_ms"`
	WitnessRef
}

// FailoverWait is the settings' failover wait.
func (s PairSettings) FailoverWait() time.Duration {
	return time.Duration(s.FailoverWaitMS) * time.Millisecond
}

// HeartbeatInterval is the settings' heartbeat interval.
func (s PairSettings) HeartbeatInterval() time.Duration {
	return time.Duration(s.HeartbeatIntervalMS) * time.Millisecond
}

func (s *PairSettings) check(out *[]FieldError) {
	checkType("failover_type", s.FailoverType, out)
	checkType("failback_type", s.FailbackType, out)
	checkTiming("failover_wait_ms", s.FailoverWait(), "heartbeat_interval_ms", s.HeartbeatInterval(), out)
	if s.HeartbeatIntervalMS <= 0 {
		*out = append(*out, FieldError{"heartbeat_interval_ms", "is required"})
	}
	s.WitnessRef.validate(out)
}

// SettingsRequest is PATCH /v1/pair, on either side of a pair: the
// settings to change, under the pairing form's names. A field left out
// keeps its value; an empty witness removes the witness. A heartbeat
// interval that was the default (a fifth of the wait) follows a new wait
// unless one is given.
type SettingsRequest struct {
	// Peer names the pair by the peer's health monitor IP; it may be empty
	// when the appliance has exactly one peer.
	Peer              string    `json:"peer,omitempty"`
	FailoverType      *string   `json:"failover_type,omitempty"`
	FailbackType      *string   `json:"failback_type,omitempty"`
	LongFailoverWait  *Duration `json:"long_failover_wait,omitempty"`
	HeartbeatInterval *Duration `json:"heartbeat_interval,omitempty"`
	// Witness, when present, replaces the witness ("" removes it); a new
	// witness needs its password and fingerprint.
	Witness            *string `json:"witness,omitempty"`
	WitnessPassword    string  `json:"witness_password,omitempty"`
	WitnessFingerprint string  `json:"witness_fingerprint,omitempty"`
}

// witness is the request's witness part as pairing names it.
func (r *SettingsRequest) witness() WitnessRef {
	w := WitnessRef{WitnessPassword: r.WitnessPassword, WitnessFingerprint: r.WitnessFingerprint}
	if r.Witness != nil {
		w.Witness = *r.Witness
	}
	return w
}

// validate checks each given field on its own; the timing depends on the
// pair's current values too, and Apply checks it.
func (r *SettingsRequest) validate() []FieldError {
	var out []FieldError
	checkAddr("peer", r.Peer, false, &out)
	if r.FailoverType != nil {
		checkType("failover_type", *r.FailoverType, &out)
	}
	if r.FailbackType != nil {
		checkType("failback_type", *r.FailbackType, &out)
	}
	w := r.witness()
	w.validate(&out)
	if w.Witness != "" && w.WitnessFingerprint == "" {
		out = append(out, FieldError{"witness_fingerprint", "is required with a witness: the SHA-256 its `hactl status` or console Appliances page shows"})
	}
	return out
}

// Empty reports whether the request changes nothing.
func (r SettingsRequest) Empty() bool {
	return r.FailoverType == nil && r.FailbackType == nil && r.LongFailoverWait == nil && r.HeartbeatInterval == nil && r.Witness == nil
}

// Apply is cur with the request's changes, or the fields the result would
// break: the timing rules of pairing apply to the new wait and interval
// together, under the request's field names.
func (r SettingsRequest) Apply(cur PairSettings) (PairSettings, error) {
	next := cur
	if r.FailoverType != nil {
		next.FailoverType = *r.FailoverType
	}
	if r.FailbackType != nil {
		next.FailbackType = *r.FailbackType
	}
	wait, iv := cur.FailoverWait(), cur.HeartbeatInterval()
	if r.LongFailoverWait != nil {
		wait = time.Duration(*r.LongFailoverWait)
	}
	switch {
	case r.HeartbeatInterval != nil:
		iv = time.Duration(*r.HeartbeatInterval)
	case iv == HeartbeatIntervalFor(cur.FailoverWait()):
		iv = 0 // the default follows the wait
	}
	var out []FieldError
	checkTiming("long_failover_wait", wait, "heartbeat_interval", iv, &out)
	if len(out) > 0 {
		return cur, Invalid(out...)
	}
	if iv == 0 {
		iv = HeartbeatIntervalFor(wait)
	}
	next.FailoverWaitMS, next.HeartbeatIntervalMS = wait.Milliseconds(), iv.Milliseconds()
	if r.Witness != nil {
		next.WitnessRef = r.witness()
	}
	return next, nil
}

// PeerSettingsRequest is POST /v1/peer/settings: one side of a pair hands
// its peer the pair's new settings, complete, before it takes them
// itself, so that the two never disagree because one refused.
type PeerSettingsRequest struct {
	PairSettings
}

func (r *PeerSettingsRequest) validate() []FieldError {
	var out []FieldError
	r.check(&out)
	return out
}

// SettingsBackend is implemented by a backend whose pairs' settings can
// change after pairing; NewHandler serves PATCH /v1/pair and POST
// /v1/peer/settings only then.
type SettingsBackend interface {
	// UpdateSettings is the operator's change, on either side: the peer
	// takes the new settings first, then this side.
	UpdateSettings(ctx context.Context, req SettingsRequest) (Result, error)
	// PeerSettings is the peer's half; peerFP is the asking node's client
	// certificate, which must be a paired peer's.
	PeerSettings(ctx context.Context, req PeerSettingsRequest, peerFP string) (Result, error)
}

func (h *handler) settingsRoutes(mux *http.ServeMux, b SettingsBackend) {
	mux.HandleFunc("PATCH /v1/pair", h.admin(operation[SettingsRequest](h, b.UpdateSettings)))
	mux.HandleFunc("POST /v1/peer/settings", func(w http.ResponseWriter, r *http.Request) {
		fp, ok := h.peerCertificate(w, r)
		if !ok {
			return
		}
		operation[PeerSettingsRequest](h, func(ctx context.Context, req PeerSettingsRequest) (Result, error) {
			return b.PeerSettings(ctx, req, fp)
		})(w, r)
	})
}

// UpdateSettings is PATCH /v1/pair.
func (c *Client) UpdateSettings(ctx context.Context, req SettingsRequest) (Result, error) {
	var r Result
	err := c.do(ctx, http.MethodPatch, "/v1/pair", req, &r)
	return r, err
}

// PeerSettings is POST /v1/peer/settings (peer to peer, pinned certificate).
func (c *Client) PeerSettings(ctx context.Context, req PeerSettingsRequest) (Result, error) {
	var r Result
	err := c.do(ctx, http.MethodPost, "/v1/peer/settings", req, &r)
	return r, err
}
