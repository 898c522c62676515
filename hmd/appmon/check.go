package appmon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Checker runs one health check; nil means healthy. It must return by
// ctx's deadline.
type Checker interface {
	Check(ctx context.Context) error
}

// Process is how a command of an application is started: as whom (nil:
// as hmd) and with which environment (nil: hmd's).
type Process struct {
	Credential *syscall.Credential
	Env        []string
}

// NewChecker makes the checker of k; an exec check's command is started
// as p says, like the application it checks.
func NewChecker(k Check, p Process) Checker {
	switch {
	case k.HTTP != "":
		return httpCheck{url: k.HTTP}
	case k.TCP != "":
		return tcpCheck{addr: k.TCP}
	default:
		return execCheck{argv: k.Exec, p: p}
	}
}

type httpCheck struct{ url string }

// Check GETs the URL on a fresh connection (a pooled one could hide a
// listener that stopped accepting).
func (c httpCheck) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return err
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", c.url, errors.Unwrap(err))
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return fmt.Errorf("GET %s: HTTP %d", c.url, resp.StatusCode)
	}
	return nil
}

type tcpCheck struct{ addr string }

func (c tcpCheck) Check(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return fmt.Errorf("connect %s: %w", c.addr, err)
	}
	return conn.Close()
}

type execCheck struct {
	argv []string
	p    Process
}

// Check runs the command in its own process group; at ctx's end the
// whole group is killed, so a hanging command (or one whose children
// hang) cannot outlive its timeout.
func (c execCheck) Check(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.p.Credential}
	cmd.Env = c.p.Env
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Output pipes held open by a killed command's orphans must not
	// hold the check up either.
	cmd.WaitDelay = 500 * time.Millisecond
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("%s: no answer within the timeout", c.argv[0])
	}
	if err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 200 {
			msg = msg[:200]
		}
		if msg != "" {
			return fmt.Errorf("%s: %w: %s", c.argv[0], err, msg)
		}
		return fmt.Errorf("%s: %w", c.argv[0], err)
	}
	return nil
}
