package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/hafw/hafw/hmd/events"
	"github.com/hafw/hafw/internal/tlsid"
)

// Caller is who sent a request, as the handler established it.
type Caller struct {
	// Admin is the operator: the local socket, or the appliance password.
	Admin bool
	// PeerFingerprint is the SHA-256 of the TLS client certificate, if the
	// client presented one ("" on the local socket).
	PeerFingerprint string
	// RetryAfter, when not zero, says the password was not checked: this
	// client address has a check in flight or too many wrong passwords
	// (answer 429 with Retry-After).
	RetryAfter time.Duration
}

// Backend carries out the operations; hmd's daemon implements it. Its
// refusals are *refusal.Error, answered with their reason's status and
// their fields (FromValidation); an *Error keeps its status; others are
// 500.
type Backend interface {
	Status(ctx context.Context) (Status, error)
	Events(ctx context.Context, peer string, limit int) ([]events.Event, error)
	// Pair configures a secondary for this primary (operator request).
	Pair(ctx context.Context, req PairRequest) (Result, error)
	// AcceptPair is the secondary's half of pairing; primaryFingerprint is
	// the primary's client certificate, pinned for later peer requests.
	AcceptPair(ctx context.Context, req PeerPairRequest, primaryFingerprint string) (PeerPairResponse, error)
	Switchover(ctx context.Context, req PeerRequest) (Result, error)
	Failback(ctx context.Context, req PeerRequest) (Result, error)
	// Unpair deletes the secondary (operator request, on either side).
	Unpair(ctx context.Context, req PeerRequest) (Result, error)
	// PeerUnpair is the peer telling us the pair is deleted; the backend
	// checks fingerprint against its pinned peers.
	PeerUnpair(ctx context.Context, fingerprint string) (Result, error)
}

// Authenticator decides who a remote request comes from.
type Authenticator interface {
	Authenticate(r *http.Request) Caller
}

// Local trusts every caller: the unix socket is protected by its file
// permissions (root only).
type Local struct{}

// Authenticate implements Authenticator.
func (Local) Authenticate(*http.Request) Caller { return Caller{Admin: true} }

// Password authenticates remote callers with HTTP basic authentication
// (user "admin") against the appliance password hash, and reads the TLS
// client certificate's fingerprint.
type Password struct {
	// Hash returns the current stored hash (config.HashPassword form).
	Hash func() string
	// Check verifies a password against a hash (config.CheckPassword).
	Check func(hash, password string) bool

	// The password hash is deliberately slow (PBKDF2, 600k rounds); one
	// check at a time per lane keeps password guessing from eating the
	// CPUs, the per-client throttle keeps one client from queueing many of
	// them ahead of everyone else, and a remembered success keeps a polling
	// UI cheap. Requests with a TLS client certificate (hmd's peers pairing
	// or pushing a restore) have a lane of their own, so console logins
	// and scripts cannot make them wait.
	slow, slowPeer sync.Mutex
	guesses        throttle
	mu             sync.Mutex
	ok             map[[32]byte]bool

	// Store, if set, makes the password changeable (Change): it saves a
	// new hash durably, after which Hash returns it.
	Store    func(hash string) error
	changing sync.Mutex // one change at a time
	onChange []func()
}

// AdminUser is the user name of the remote API's basic authentication.
const AdminUser = "admin"

// Authenticate implements Authenticator.
func (p *Password) Authenticate(r *http.Request) Caller {
	var c Caller
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		c.PeerFingerprint = tlsid.Fingerprint(r.TLS.PeerCertificates[0].Raw)
	}
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(AdminUser)) != 1 {
		return c
	}
	good, retry := p.verify(clientAddr(r), c.PeerFingerprint != "", p.Hash(), pass)
	c.Admin, c.RetryAfter = good, retry
	return c
}

// verify checks pass against hash for client under the per-client limit
// (retryAfter > 0: not checked), one check at a time per lane; peers with
// a client certificate have their own lane. A success is remembered, so
// a polling UI does not pay for PBKDF2 at each request.
func (p *Password) verify(client netip.Addr, peerLane bool, hash, pass string) (good bool, retryAfter time.Duration) {
	key := sha256.Sum256([]byte(hash + "\x00" + pass))
	p.mu.Lock()
	known := p.ok[key]
	p.mu.Unlock()
	if known {
		return true, 0
	}
	if retryAfter = p.guesses.begin(client, time.Now()); retryAfter > 0 {
		return false, retryAfter
	}
	lane := &p.slow
	if peerLane {
		lane = &p.slowPeer
	}
	lane.Lock()
	good = hash != "" && p.Check(hash, pass)
	lane.Unlock()
	p.guesses.end(client, good, time.Now())
	if good {
		p.mu.Lock()
		if p.ok == nil || len(p.ok) > 64 {
			p.ok = map[[32]byte]bool{}
		}
		p.ok[key] = true
		p.mu.Unlock()
	}
	return good, 0
}

// clientAddr is the request's source address, IPv4-mapped IPv6 folded
// (the zero Addr when there is none, as on the local socket).
func clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// NewHandler serves the API routes for backend, authenticating with auth.
func NewHandler(backend Backend, auth Authenticator, log *slog.Logger) http.Handler {
	h := &handler{b: backend, auth: auth, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", h.admin(h.status))
	mux.HandleFunc("GET /v1/events", h.admin(h.events))
	mux.HandleFunc("POST /v1/pair", h.admin(h.pair))
	mux.HandleFunc("POST /v1/switchover", h.admin(h.switchover))
	mux.HandleFunc("POST /v1/failback", h.admin(h.failback))
	mux.HandleFunc("POST /v1/unpair", h.admin(h.unpair))
	mux.HandleFunc("POST /v1/peer/pair", h.peerPair)
	mux.HandleFunc("POST /v1/peer/unpair", h.peerUnpair)
	if rb, ok := backend.(RecoveryBackend); ok {
		h.recoveryRoutes(mux, rb)
	}
	if wb, ok := backend.(WitnessBackend); ok {
		h.witnessRoutes(mux, wb)
	}
	if pb, ok := backend.(PeerClaimBackend); ok {
		h.peerClaimRoutes(mux, pb)
	}
	if sb, ok := backend.(SecondaryBackend); ok {
		h.secondaryRoutes(mux, sb)
	}
	if ab, ok := backend.(ActivationBackend); ok {
		h.activationRoutes(mux, ab)
	}
	if rr, ok := backend.(RecoveryRequester); ok {
		h.recoverFromRoutes(mux, rr)
	}
	if nb, ok := backend.(NotifyBackend); ok {
		h.notifyRoutes(mux, nb)
	}
	if mb, ok := backend.(MetricsBackend); ok {
		h.metricsRoutes(mux, mb)
	}
	if lb, ok := backend.(LogsBackend); ok {
		h.logsRoutes(mux, lb)
	}
	if ab, ok := backend.(AppsBackend); ok {
		h.appsRoutes(mux, ab)
	}
	if ub, ok := backend.(UpgradeBackend); ok {
		h.upgradeRoutes(mux, ub)
	}
	if pb, ok := backend.(PasswordBackend); ok {
		h.passwordRoutes(mux, pb)
	}
	if sb, ok := backend.(SettingsBackend); ok {
		h.settingsRoutes(mux, sb)
	}
	if sb, ok := backend.(SessionsBackend); ok {
		h.sessionsRoutes(mux, sb)
	}
	return mux
}

type handler struct {
	b    Backend
	auth Authenticator
	log  *slog.Logger
}

type callerKey struct{}

func (h *handler) admin(next func(http.ResponseWriter, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := h.auth.Authenticate(r)
		if h.throttled(w, r, c) {
			return
		}
		if !c.Admin {
			w.Header().Set("WWW-Authenticate", `Basic realm="hafw"`)
			h.fail(w, r, Errorf(http.StatusUnauthorized, "authentication required: the appliance password for user %q", AdminUser))
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	}
}

// throttled answers 429 if the caller's password was not checked because
// of the per-client limit.
func (h *handler) throttled(w http.ResponseWriter, r *http.Request, c Caller) bool {
	if c.RetryAfter <= 0 {
		return false
	}
	h.fail(w, r, throttledError(c.RetryAfter))
	return true
}

// throttledError is the 429 of a password not checked because of the
// per-client limit; fail adds its Retry-After.
func throttledError(retryAfter time.Duration) *Error {
	secs := int((retryAfter + time.Second - 1) / time.Second)
	return &Error{Code: http.StatusTooManyRequests, Message: fmt.Sprintf("too many wrong passwords from this address: retry in %d s", secs), RetryAfter: time.Duration(secs) * time.Second}
}

func (h *handler) reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		h.log.Debug("write API reply", "err", err)
	}
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae := FromValidation(err)
	if ae.Code >= 500 {
		h.log.Error("API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		h.log.Info("API request refused", "method", r.Method, "path", r.URL.Path, "err", ae)
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(ae.RetryAfter/time.Second)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ae.Code)
	_ = json.NewEncoder(w).Encode(ae)
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	st, err := h.b.Status(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply(w, st)
}

func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			h.fail(w, r, Invalid(FieldError{"limit", "must be a non-negative number"}))
			return
		}
		limit = n
	}
	peer := q.Get("peer")
	if peer != "" {
		var fe []FieldError
		checkAddr("peer", peer, false, &fe)
		if len(fe) > 0 {
			h.fail(w, r, Invalid(fe...))
			return
		}
	}
	evs, err := h.b.Events(r.Context(), peer, limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if evs == nil {
		evs = []events.Event{}
	}
	h.reply(w, EventList{Events: evs})
}

// operation decodes a request of type T, runs do and replies with its result.
func operation[T any, P interface {
	*T
	request
}, R any](h *handler, do func(context.Context, T) (R, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := Decode[T, P](r.Body)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		res, err := do(r.Context(), req)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.reply(w, res)
	}
}

func (h *handler) pair(w http.ResponseWriter, r *http.Request) {
	operation[PairRequest](h, h.b.Pair)(w, r)
}

func (h *handler) switchover(w http.ResponseWriter, r *http.Request) {
	operation[PeerRequest](h, h.b.Switchover)(w, r)
}

func (h *handler) failback(w http.ResponseWriter, r *http.Request) {
	operation[PeerRequest](h, h.b.Failback)(w, r)
}

func (h *handler) unpair(w http.ResponseWriter, r *http.Request) {
	operation[PeerRequest](h, h.b.Unpair)(w, r)
}

// peerOperation is an operation one hmd asks of another: it needs this
// appliance's password and the asking node's TLS client certificate, whose
// fingerprint do gets to pin or check. wrongPassword and needCertificate
// are the refusals' wording.
func peerOperation[T any, P interface {
	*T
	request
}, R any](h *handler, wrongPassword, needCertificate string, do func(ctx context.Context, req T, peerFP string) (R, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := h.auth.Authenticate(r)
		if h.throttled(w, r, c) {
			return
		}
		switch {
		case !c.Admin:
			h.fail(w, r, Errorf(http.StatusUnauthorized, "%s", wrongPassword))
			return
		case c.PeerFingerprint == "":
			h.fail(w, r, Errorf(http.StatusBadRequest, "%s", needCertificate))
			return
		}
		operation[T, P](h, func(ctx context.Context, req T) (R, error) {
			return do(ctx, req, c.PeerFingerprint)
		})(w, r)
	}
}

// peerPair needs the secondary's password and the primary's client
// certificate, which the secondary pins.
func (h *handler) peerPair(w http.ResponseWriter, r *http.Request) {
	peerOperation[PeerPairRequest](h, "the secondary password is wrong", "pairing needs the primary's TLS client certificate", h.b.AcceptPair)(w, r)
}

// peerCertificate is the fingerprint of the caller's TLS client
// certificate, or answers 401 when it presented none. Requests between
// paired peers are authenticated by that certificate alone (the backend
// checks it against its pinned peers): the peer does not know our password
// after pairing.
func (h *handler) peerCertificate(w http.ResponseWriter, r *http.Request) (string, bool) {
	c := h.auth.Authenticate(r)
	if c.PeerFingerprint == "" {
		h.fail(w, r, Errorf(http.StatusUnauthorized, "only a paired peer may do this"))
		return "", false
	}
	return c.PeerFingerprint, true
}

// peerUnpair is authenticated by the pinned certificate alone.
func (h *handler) peerUnpair(w http.ResponseWriter, r *http.Request) {
	fp, ok := h.peerCertificate(w, r)
	if !ok {
		return
	}
	res, err := h.b.PeerUnpair(r.Context(), fp)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply(w, res)
}
