package api

import (
	"context"
	"net/http"
	"time"
)

// AdminUserID is the number getserverinfo shows as a session's "Session
// User ID": the console has one account, AdminUser, and it is user 1 as on
// the seed's appliance.
const AdminUserID = 1

// SessionsBackend is implemented by a backend that serves the management
// console: its logged-in sessions, for getserverinfo's Active Sessions.
type SessionsBackend interface {
	Sessions() []Session
}

// Session is one live console session. It carries no secret: ID is a small
// number given when the session opened, not the session's cookie, so the
// listing cannot be used to take a session over.
type Session struct {
	ID         int       `json:"id"`
	User       string    `json:"user"`
	UserID     int       `json:"user_id"`
	IP         string    `json:"ip"`
	Started    time.Time `json:"started"`
	LastAccess time.Time `json:"last_access"`
}

// SessionList is GET /v1/sessions.
type SessionList struct {
	Sessions []Session `json:"sessions"`
}

func (h *handler) sessionsRoutes(mux *http.ServeMux, b SessionsBackend) {
	mux.HandleFunc("GET /v1/sessions", h.admin(func(w http.ResponseWriter, r *http.Request) {
		l := SessionList{Sessions: b.Sessions()}
		if l.Sessions == nil {
			l.Sessions = []Session{}
		}
		h.reply(w, l)
	}))
}

// Sessions is GET /v1/sessions.
func (c *Client) Sessions(ctx context.Context) ([]Session, error) {
	var l SessionList
	err := c.do(ctx, http.MethodGet, "/v1/sessions", nil, &l)
	return l.Sessions, err
}
