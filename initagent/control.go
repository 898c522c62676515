package initagent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/supervise"
)

// ControlStatus is GET /v1/status on the control socket: how the appliance
// came up and how its supervised services stand (msed status,
// getserverinfo, and setup's role-switch check read it).
type ControlStatus struct {
	Configured bool        `json:"configured"`
	Source     string      `json:"source"`
	Hostname   string      `json:"hostname"`
	Profile    string      `json:"profile"`
	UDI        string      `json:"udi"`
	Role       config.Role `json:"role"`
	Activated  bool        `json:"activated"`
	Recovery   bool        `json:"recovery"`
	Eth0       string      `json:"eth0"`
	Eth1       string      `json:"eth1"`
	Timezone   string      `json:"timezone"`
	// Pairing is why the HA pair is unsupported (pairing matrix), if it is.
	Pairing string `json:"pairing_problem,omitempty"`
	// Started is when the init agent started (the seed's "Server start time").
	Started  time.Time          `json:"started"`
	Services []supervise.Status `json:"services"`
	// Log is the tail of the children's output ring buffer.
	Log []string `json:"log,omitempty"`
}

// ServicesRunning reports whether any supervised service is up or coming
// up; the setup wizard refuses a role switch then, as the seed does.
func (s ControlStatus) ServicesRunning() bool {
	for _, svc := range s.Services {
		switch svc.State {
		case supervise.Starting, supervise.Running, supervise.BackingOff, supervise.Stopping:
			return true
		}
	}
	return false
}

// controller is what the control socket drives; runtime implements it.
type controller interface {
	status() ControlStatus
	startServices(ctx context.Context) error
	stopServices()
	reload(ctx context.Context) error
	requestReboot()
}

// controlHandler serves the control API. The socket is mode 0600 in a
// root-only directory: being able to connect is the authentication.
func controlHandler(ctx context.Context, c controller) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, c.status())
	})
	mux.HandleFunc("POST /v1/services/start", func(w http.ResponseWriter, _ *http.Request) {
		if err := c.startServices(ctx); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, c.status())
	})
	mux.HandleFunc("POST /v1/services/stop", func(w http.ResponseWriter, _ *http.Request) {
		c.stopServices()
		writeJSON(w, http.StatusOK, c.status())
	})
	mux.HandleFunc("POST /v1/reload", func(w http.ResponseWriter, _ *http.Request) {
		if err := c.reload(ctx); err != nil {
			writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, c.status())
	})
	mux.HandleFunc("POST /v1/reboot", func(w http.ResponseWriter, _ *http.Request) {
		c.requestReboot()
		writeJSON(w, http.StatusOK, c.status())
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// serveControl listens on the control socket until ctx ends.
func serveControl(ctx context.Context, path string, c controller) (func(), error) {
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("restrict control socket: %w", err)
	}
	srv := &http.Server{Handler: controlHandler(ctx, c), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-done
		os.Remove(path)
	}, nil
}

// ControlClient talks to the init agent's control socket.
type ControlClient struct {
	Socket string
}

// ErrAgentNotRunning means nothing listens on the control socket.
var ErrAgentNotRunning = errors.New("the init agent is not running")

func (c ControlClient) do(ctx context.Context, method, path string) (ControlStatus, error) {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", c.Socket)
		if err != nil {
			return nil, fmt.Errorf("%w (%s): %w", ErrAgentNotRunning, c.Socket, err)
		}
		return conn, nil
	}}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, method, "http://initagent"+path, http.NoBody)
	if err != nil {
		return ControlStatus{}, fmt.Errorf("build request: %w", err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return ControlStatus{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return ControlStatus{}, fmt.Errorf("%s %s: read reply: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return ControlStatus{}, fmt.Errorf("%s %s: %s", method, path, e.Error)
		}
		return ControlStatus{}, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(body))
	}
	var st ControlStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return ControlStatus{}, fmt.Errorf("%s %s: decode reply: %w", method, path, err)
	}
	return st, nil
}

// Status is GET /v1/status.
func (c ControlClient) Status(ctx context.Context) (ControlStatus, error) {
	return c.do(ctx, http.MethodGet, "/v1/status")
}

// Start starts the services (hmd, then the instance); msed start.
func (c ControlClient) Start(ctx context.Context) (ControlStatus, error) {
	return c.do(ctx, http.MethodPost, "/v1/services/start")
}

// Stop stops the services; msed stop.
func (c ControlClient) Stop(ctx context.Context) (ControlStatus, error) {
	return c.do(ctx, http.MethodPost, "/v1/services/stop")
}

// Reload re-reads the stored configuration and applies it without a
// reboot (hostname, network, role); setup calls it after saving.
func (c ControlClient) Reload(ctx context.Context) (ControlStatus, error) {
	return c.do(ctx, http.MethodPost, "/v1/reload")
}

// Reboot asks the agent for an orderly reboot (as PID 1; under systemd the
// agent just stops, and systemd decides).
func (c ControlClient) Reboot(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/reboot")
	return err
}
