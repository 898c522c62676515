package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hafw/hafw/hmd/events"
	"github.com/hafw/hafw/internal/tlsid"
)

// DefaultSocket is the local API socket on the appliance.
const DefaultSocket = "/run/hafw/hmd.sock"

// Client calls an hmd API, locally over the unix socket or remotely over TLS.
type Client struct {
	http     *http.Client
	base     string
	user     string
	password string

	mu     sync.Mutex
	seenFP string
}

// ErrNotRunning means nothing answers on hmd's local socket.
var ErrNotRunning = errors.New("hmd is not running")

// notRunning is the dial error of a local socket nobody listens on; its
// text is all an operator needs, not the URL and the syscall around it.
type notRunning struct{ socket string }

func (e *notRunning) Error() string {
	return fmt.Sprintf("%v: nothing answers on %s (gethainfo shows the last saved state)", ErrNotRunning, e.socket)
}

func (e *notRunning) Is(target error) bool { return target == ErrNotRunning }

// NewUnixClient talks to the hmd listening on the unix socket path.
func NewUnixClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "unix", path)
			if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
				return nil, &notRunning{socket: path}
			}
			return c, err
		},
	}
	return &Client{http: &http.Client{Transport: tr, Timeout: 30 * time.Second}, base: "http://hmd"}
}

// RemoteOptions configure a TLS client.
type RemoteOptions struct {
	// Pin is the expected certificate fingerprint; "" trusts on first use
	// (read what was seen with SeenFingerprint).
	Pin string
	// ClientCert identifies this appliance to a peer (its Identity).
	ClientCert *tls.Certificate
	// Password is the remote appliance's password (user admin), if needed.
	Password string
	// Timeout bounds each call (30 s when zero).
	Timeout time.Duration
	// DialContext, if set, opens the TCP connections: a management station
	// that lives in another network namespace (the QEMU demo) dials there.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// NewRemoteClient talks to the hmd at host over TLS on Port.
func NewRemoteClient(host netip.Addr, opt RemoteOptions) *Client {
	c := &Client{base: "https://" + net.JoinHostPort(host.String(), strconv.Itoa(Port))}
	if opt.Password != "" {
		c.user, c.password = AdminUser, opt.Password
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		// Appliances have self-signed certificates and no names anyone can
		// vouch for; VerifyConnection pins the fingerprint instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("peer sent no certificate")
			}
			fp := tlsid.Fingerprint(cs.PeerCertificates[0].Raw)
			if opt.Pin != "" && fp != opt.Pin {
				return fmt.Errorf("certificate fingerprint %s is not the pinned %s", fp, opt.Pin)
			}
			c.mu.Lock()
			c.seenFP = fp
			c.mu.Unlock()
			return nil
		},
	}
	if opt.ClientCert != nil {
		cfg.Certificates = []tls.Certificate{*opt.ClientCert}
	}
	timeout := opt.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	// Idle connections are dropped before the server's idle limit
	// (Limits.Idle) would close them under a request.
	tr := &http.Transport{TLSClientConfig: cfg, DialContext: opt.DialContext, IdleConnTimeout: 20 * time.Second}
	c.http = &http.Client{Transport: tr, Timeout: timeout}
	return c
}

// SeenFingerprint is the server certificate fingerprint of the last
// connection ("" before the first).
func (c *Client) SeenFingerprint() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seenFP
}

// CloseIdleConnections releases the client's connections.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.http.Do(req)
	if nr := (*notRunning)(nil); errors.As(err, &nr) {
		return nr
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read reply: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return replyError(resp, data, method, path)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode reply: %w", method, path, err)
	}
	return nil
}

// replyError is the *Error of a reply that is not 200: the API's JSON
// error body, or the method, path and status when the body is none.
func replyError(resp *http.Response, body []byte, method, path string) *Error {
	ae := &Error{Code: resp.StatusCode}
	if json.Unmarshal(body, ae) != nil || ae.Message == "" {
		ae.Message = fmt.Sprintf("%s %s: %s", method, path, resp.Status)
	}
	return ae
}

// PasswordRefused reports whether a call failed because the remote hmd
// refused the password it was given (or wanted one), so that a caller can
// point the operator at the password field.
func PasswordRefused(err error) bool {
	var ae *Error
	return errors.As(err, &ae) && ae.Code == http.StatusUnauthorized
}

// Status is GET /v1/status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodGet, "/v1/status", nil, &st)
	return st, err
}

// Events is GET /v1/events, newest first.
func (c *Client) Events(ctx context.Context, peer string, limit int) ([]events.Event, error) {
	q := url.Values{}
	if peer != "" {
		q.Set("peer", peer)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/v1/events"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var l EventList
	err := c.do(ctx, http.MethodGet, path, nil, &l)
	return l.Events, err
}

// Pair is POST /v1/pair.
func (c *Client) Pair(ctx context.Context, req PairRequest) (Result, error) {
	var r Result
	err := c.do(ctx, http.MethodPost, "/v1/pair", req, &r)
	return r, err
}

// PeerPair is POST /v1/peer/pair (primary to secondary).
func (c *Client) PeerPair(ctx context.Context, req PeerPairRequest) (PeerPairResponse, error) {
	var r PeerPairResponse
	err := c.do(ctx, http.MethodPost, "/v1/peer/pair", req, &r)
	return r, err
}

// Switchover is POST /v1/switchover.
func (c *Client) Switchover(ctx context.Context, req PeerRequest) (Result, error) {
	var r Result
	err := c.do(ctx, http.MethodPost, "/v1/switchover", req, &r)
	return r, err
}

// Failback is POST /v1/failback.
func (c *Client) Failback(ctx context.Context, req PeerRequest) (Result, error) {
	var r Result
	err := c.do(ctx, http.MethodPost, "/v1/failback", req, &r)
	return r, err
}

// Unpair is POST /v1/unpair.
func (c *Client) Unpair(ctx context.Context, req PeerRequest) (Result, error) {
	var r Result
	err := c.do(ctx, http.MethodPost, "/v1/unpair", req, &r)
	return r, err
}

// PeerUnpair is POST /v1/peer/unpair (peer to peer, pinned certificate).
func (c *Client) PeerUnpair(ctx context.Context) (Result, error) {
	var r Result
	err := c.do(ctx, http.MethodPost, "/v1/peer/unpair", struct{}{}, &r)
	return r, err
}
