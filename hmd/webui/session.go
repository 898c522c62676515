package webui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hafw/hafw/hmd/api"
)

// Session limits: an idle console logs out after SessionIdle, and at most
// maxSessions are kept so that repeated logins cannot grow memory without
// bound on a small appliance.
const (
	SessionIdle = 30 * time.Minute
	maxSessions = 64
)

// session is one logged-in browser. csrf is the token every form post must
// carry; flash is a one-shot message shown on the next page. seq, ip,
// started and lastAccess are what the session listing shows instead of the
// token.
type session struct {
	csrf       string
	expires    time.Time
	flash      string
	flashErr   bool
	seq        int
	ip         string
	started    time.Time
	lastAccess time.Time
}

// sessions is the in-memory session table. Sessions die with hmd, which is
// what an operator expects after a reboot of the appliance.
type sessions struct {
	mu   sync.Mutex
	m    map[string]*session
	now  func() time.Time
	last int // the last seq given
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{m: map[string]*session{}, now: now}
}

// token is 32 random bytes, URL-safe.
func token() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate session token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// create starts a session for a browser at ip and returns its id.
func (s *sessions) create(ip string) (string, error) {
	id, err := token()
	if err != nil {
		return "", err
	}
	csrf, err := token()
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.m) >= maxSessions {
		s.evict(now)
	}
	s.last++
	s.m[id] = &session{csrf: csrf, expires: now.Add(SessionIdle), seq: s.last, ip: ip, started: now, lastAccess: now}
	return id, nil
}

// evict drops expired sessions and, if the table is still full, the one
// closest to expiry. Called with mu held.
func (s *sessions) evict(now time.Time) {
	var oldest string
	for id, se := range s.m {
		if !now.Before(se.expires) {
			delete(s.m, id)
			continue
		}
		if oldest == "" || se.expires.Before(s.m[oldest].expires) {
			oldest = id
		}
	}
	if len(s.m) >= maxSessions {
		delete(s.m, oldest)
	}
}

// touch returns the session's CSRF token and extends its life; ok is false
// for an unknown or expired id.
func (s *sessions) touch(id string) (csrf string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.m[id]
	now := s.now()
	if se == nil {
		return "", false
	}
	if !now.Before(se.expires) {
		delete(s.m, id)
		return "", false
	}
	se.expires, se.lastAccess = now.Add(SessionIdle), now
	return se.csrf, true
}

// list is the live sessions in the order they opened, each under its
// sequence number: the id (the cookie) is never shown. Expired sessions
// are dropped, not listed.
func (s *sessions) list() []api.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := make([]api.Session, 0, len(s.m))
	for id, se := range s.m {
		if !now.Before(se.expires) {
			delete(s.m, id)
			continue
		}
		out = append(out, api.Session{ID: se.seq, User: api.AdminUser, UserID: api.AdminUserID, IP: se.ip, Started: se.started, LastAccess: se.lastAccess})
	}
	slices.SortFunc(out, func(a, b api.Session) int { return a.ID - b.ID })
	return out
}

// checkCSRF compares a posted token with the session's in constant time.
func (s *sessions) checkCSRF(id, posted string) bool {
	csrf, ok := s.touch(id)
	return ok && posted != "" && subtle.ConstantTimeCompare([]byte(csrf), []byte(posted)) == 1
}

func (s *sessions) setFlash(id, msg string, isErr bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if se := s.m[id]; se != nil {
		se.flash, se.flashErr = msg, isErr
	}
}

func (s *sessions) takeFlash(id string) (msg string, isErr bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.m[id]
	if se == nil {
		return "", false
	}
	msg, isErr = se.flash, se.flashErr
	se.flash, se.flashErr = "", false
	return msg, isErr
}

func (s *sessions) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// clear ends every session.
func (s *sessions) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.m)
}
