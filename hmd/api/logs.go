package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/hafw/hafw/logs"
)

// LogsBackend is implemented by a backend that keeps its logs on disk.
type LogsBackend interface {
	Logs(lines int) (LogsView, error)
}

// LogsView is GET /v1/logs: the state of the logs and their last lines.
type LogsView struct {
	Status logs.Status `json:"status"`
	Lines  []string    `json:"lines"`
}

// MaxLogLines bounds one GET /v1/logs.
const MaxLogLines = 5000

func (h *handler) logsRoutes(mux *http.ServeMux, b LogsBackend) {
	mux.HandleFunc("GET /v1/logs", h.admin(func(w http.ResponseWriter, r *http.Request) {
		n := 200
		if s := r.URL.Query().Get("lines"); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil || v < 1 || v > MaxLogLines {
				h.fail(w, r, Invalid(FieldError{"lines", "must be a number from 1 to " + strconv.Itoa(MaxLogLines)}))
				return
			}
			n = v
		}
		v, err := b.Logs(n)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.reply(w, v)
	}))
}

// Logs is GET /v1/logs.
func (c *Client) Logs(ctx context.Context, lines int) (LogsView, error) {
	var v LogsView
	err := c.do(ctx, http.MethodGet, "/v1/logs?lines="+strconv.Itoa(lines), nil, &v)
	return v, err
}
