package webui

import (
	"net/http"

	"github.com/hafw/hafw/hmd/api"
)

// logLinesShown is how many of hmd's last log lines the Logs page shows.
const logLinesShown = 200

// logsData is the seed's "Logs" page: the state of the logs (a full data
// partition is said here) and hmd's last lines, newest last.
type logsData struct {
	Available bool
	View      api.LogsView
	Error     string
}

func (s *Server) logsPage(w http.ResponseWriter, r *http.Request, cur current) {
	v, err := s.baseView(r, cur, "Logs", "logs")
	if err != nil {
		s.fail(w, err)
		return
	}
	var d logsData
	if lb, ok := s.opt.Backend.(api.LogsBackend); ok {
		d.Available = true
		if d.View, err = lb.Logs(logLinesShown); err != nil {
			d.Error = err.Error()
		}
	}
	v.Body = d
	s.render(w, http.StatusOK, "logs", v)
}
