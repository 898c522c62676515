package api

import (
	"context"
	"net/http"
)

// MetricsBackend is implemented by a backend that serves /metrics; the
// operator reads the scrapers' read-only token through the API.
type MetricsBackend interface {
	MetricsToken() string
}

// MetricsToken is GET /v1/metrics/token.
type MetricsToken struct {
	Token string `json:"token"`
}

func (h *handler) metricsRoutes(mux *http.ServeMux, b MetricsBackend) {
	mux.HandleFunc("GET /v1/metrics/token", h.admin(func(w http.ResponseWriter, r *http.Request) {
		h.reply(w, MetricsToken{Token: b.MetricsToken()})
	}))
}

// MetricsToken is GET /v1/metrics/token.
func (c *Client) MetricsToken(ctx context.Context) (string, error) {
	var t MetricsToken
	err := c.do(ctx, http.MethodGet, "/v1/metrics/token", nil, &t)
	return t.Token, err
}
