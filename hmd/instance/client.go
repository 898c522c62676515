package instance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Client is a service's handle on the instance API.
type Client struct {
	http *http.Client
}

// NewClient talks to the instance API on the unix socket path.
func NewClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConnsPerHost: 64,
	}
	return &Client{http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// APIError is an error answer of the instance API.
type APIError struct {
	Code    int
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("instance API: %d: %s", e.Code, e.Message) }

// IsNotFound reports whether err is the API's 404.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == http.StatusNotFound
}

func (c *Client) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://instance"+path, rd)
	if err != nil {
		return nil, fmt.Errorf("instance API request: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("instance API: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("instance API: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e errorResponse
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = string(data)
		}
		return nil, &APIError{Code: resp.StatusCode, Message: e.Error}
	}
	return data, nil
}

// Txn commits ops atomically and returns the sequence number.
func (c *Client) Txn(ctx context.Context, ops ...TxnOp) (uint64, error) {
	data, err := c.do(ctx, http.MethodPost, "/v1/txn", TxnRequest{Ops: ops})
	if err != nil {
		return 0, err
	}
	var r TxnResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return 0, fmt.Errorf("decode transaction answer: %w", err)
	}
	return r.Seq, nil
}

// Get reads one key.
func (c *Client) Get(ctx context.Context, key string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, "/v1/kv/"+url.PathEscape(key), nil)
}

// Scan lists the pairs whose key starts with prefix (limit 0: all).
func (c *Client) Scan(ctx context.Context, prefix string, limit int) ([]KV, error) {
	q := url.Values{"prefix": {prefix}, "limit": {fmt.Sprint(limit)}}
	data, err := c.do(ctx, http.MethodGet, "/v1/kv?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	var r struct {
		Items []KV `json:"items"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decode scan answer: %w", err)
	}
	return r.Items, nil
}

// Status reads the database position and digest.
func (c *Client) Status(ctx context.Context) (StatusResponse, error) {
	var r StatusResponse
	data, err := c.do(ctx, http.MethodGet, "/v1/status", nil)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("decode status: %w", err)
	}
	return r, nil
}
