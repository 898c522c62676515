package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
)

// passwordBackend is a recorder that changes the password through pw, as
// hmd does.
type passwordBackend struct {
	recorder
	pw *Password
}

func (b *passwordBackend) ChangePassword(_ context.Context, client netip.Addr, req PasswordChange) (Result, error) {
	if err := b.pw.Change(client, req.Old, req.New); err != nil {
		return Result{}, err
	}
	return Result{Message: "password changed"}, nil
}

// memPassword is a Password whose hash lives in memory, counting stores
// and change notifications.
type memPassword struct {
	mu       sync.Mutex
	hash     string
	stores   int
	notified int
}

func newMemPassword(t *testing.T, password string) (*memPassword, *Password) {
	t.Helper()
	h, err := config.HashPasswordCost(password, 1000)
	if err != nil {
		t.Fatal(err)
	}
	m := &memPassword{hash: h}
	p := &Password{
		Hash:  func() string { m.mu.Lock(); defer m.mu.Unlock(); return m.hash },
		Check: config.CheckPassword,
		Store: func(h string) error { m.mu.Lock(); defer m.mu.Unlock(); m.hash = h; m.stores++; return nil },
	}
	p.OnChange(func() { m.mu.Lock(); defer m.mu.Unlock(); m.notified++ })
	return m, p
}

func (m *memPassword) state() (hash string, stores, notified int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hash, m.stores, m.notified
}

// postPassword is POST /v1/password from client with the admin password
// login (basic authentication) and the JSON body; it returns the status,
// the decoded error (if any) and the Retry-After header.
func postPassword(t *testing.T, c *http.Client, addr, login, body string) (int, Error, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, "https://"+addr+"/v1/password", strings.NewReader(body))
	req.SetBasicAuth(AdminUser, login)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST /v1/password: %v", err)
	}
	defer resp.Body.Close()
	var ae Error
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(data, &ae); err != nil {
			t.Fatalf("error reply %d is not JSON: %q", resp.StatusCode, data)
		}
	}
	return resp.StatusCode, ae, resp.Header.Get("Retry-After")
}

// TestChangePassword: the remote API changes the administrator password
// only with the current one and only to one that passes the rule; every
// refusal names its field and stores nothing; after a change the new
// password logs in and the old one does not, without a restart.
func TestChangePassword(t *testing.T) {
	const first, second = "first-Password", "second-one-42"
	mem, pw := newMemPassword(t, first)
	addr := serveRemote(t, NewHandler(&passwordBackend{pw: pw}, pw, slog.New(slog.NewTextHandler(io.Discard, nil))), Limits{})
	from := clientFrom("127.0.0.1")
	before, _, _ := mem.state()

	for _, c := range []struct {
		name, login, body string
		code              int
		field, reason     string
	}{
		{"no login", "", `{"old":"first-Password","new":"second-one-42"}`, http.StatusUnauthorized, "", ""},
		{"wrong old", first, `{"old":"not-the-password","new":"second-one-42"}`, http.StatusForbidden, "old", "is not the current administrator password"},
		{"weak new", first, `{"old":"first-Password","new":"short"}`, http.StatusBadRequest, "new", "at least 10 characters"},
		{"one kind", first, `{"old":"first-Password","new":"onlylowercase"}`, http.StatusBadRequest, "new", "two kinds"},
		{"same as old", first, `{"old":"first-Password","new":"first-Password"}`, http.StatusBadRequest, "new", "must differ"},
		{"old missing", first, `{"new":"second-one-42"}`, http.StatusBadRequest, "old", "required"},
		{"wrong type", first, `{"old":"first-Password","new":42}`, http.StatusBadRequest, "new", "must be a string"},
		{"unknown field", first, `{"old":"first-Password","new":"second-one-42","user":"root"}`, http.StatusBadRequest, "user", "not a known field"},
	} {
		code, ae, _ := postPassword(t, from, addr, c.login, c.body)
		if code != c.code {
			t.Errorf("%s: status %d (%+v), want %d", c.name, code, ae, c.code)
			continue
		}
		if c.field != "" && (len(ae.Fields) != 1 || ae.Fields[0].Field != c.field || !strings.Contains(ae.Fields[0].Reason, c.reason)) {
			t.Errorf("%s: fields %+v, want %s: …%s…", c.name, ae.Fields, c.field, c.reason)
		}
	}
	if hash, stores, notified := mem.state(); hash != before || stores != 0 || notified != 0 {
		t.Fatalf("refused changes stored %d hashes (%d notifications)", stores, notified)
	}

	if code, ae, _ := postPassword(t, from, addr, first, `{"old":"first-Password","new":"second-one-42"}`); code != http.StatusOK {
		t.Fatalf("change: %d %+v", code, ae)
	}
	hash, stores, notified := mem.state()
	if stores != 1 || notified != 1 || !config.CheckPassword(hash, second) || !strings.HasPrefix(hash, "pbkdf2-sha256$600000$") {
		t.Fatalf("after the change: %d stores, %d notifications, hash %q", stores, notified, hash)
	}
	if code, _ := status(t, clientFrom("127.0.0.2"), addr, first); code != http.StatusUnauthorized {
		t.Errorf("the old password still logs in: %d", code)
	}
	if code, _ := status(t, clientFrom("127.0.0.2"), addr, second); code != http.StatusOK {
		t.Errorf("the new password does not log in: %d", code)
	}
}

// TestChangePasswordIsThrottledLikeLogins: wrong current passwords count
// against the same per-client limit as wrong logins, so the change route
// is no faster way to guess; the limit then refuses this client's logins
// too, with Retry-After, while another client is unaffected.
func TestChangePasswordIsThrottledLikeLogins(t *testing.T) {
	const right = "the-right-one"
	mem, pw := newMemPassword(t, right)
	addr := serveRemote(t, NewHandler(&passwordBackend{pw: pw}, pw, slog.New(slog.NewTextHandler(io.Discard, nil))), Limits{})
	guesser := clientFrom("127.0.0.4")
	locked := false
	for i := 0; i < freeFailures+5 && !locked; i++ { // lockouts double: one is bound to hold
		code, ae, retry := postPassword(t, guesser, addr, right, `{"old":"guess-number-`+string(rune('a'+i))+`","new":"another-one-42"}`)
		switch code {
		case http.StatusForbidden:
		case http.StatusTooManyRequests:
			if retry == "" || i <= freeFailures-1 {
				t.Fatalf("guess %d: 429 (Retry-After %q) %+v", i+1, retry, ae)
			}
			locked = true
		default:
			t.Fatalf("guess %d: %d %+v", i+1, code, ae)
		}
	}
	if !locked {
		t.Fatal("wrong current passwords were never throttled")
	}
	// The same client's login is now refused unchecked; another's is not.
	if code, _ := status(t, guesser, addr, "wrong-login"); code != http.StatusTooManyRequests {
		t.Errorf("a login from the throttled client: %d, want 429", code)
	}
	if code, _ := status(t, clientFrom("127.0.0.5"), addr, right); code != http.StatusOK {
		t.Errorf("another client's login: %d, want 200", code)
	}
	if _, stores, _ := mem.state(); stores != 0 {
		t.Errorf("%d hashes stored by guesses", stores)
	}
}

// TestChangePasswordOnTheLocalSocket: the trusted socket still needs the
// current password; with none configured there is nothing to change.
func TestChangePasswordOnTheLocalSocket(t *testing.T) {
	mem, pw := newMemPassword(t, "local-Secret")
	sock := t.TempDir() + "/hmd.sock"
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: NewHandler(&passwordBackend{pw: pw}, Local{}, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c := NewUnixClient(sock)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var ae *Error
	if _, err := c.ChangePassword(ctx, PasswordChange{Old: "wrong-Secret", New: "other-Secret"}); !errors.As(err, &ae) || ae.Code != http.StatusForbidden || len(ae.Fields) != 1 || ae.Fields[0].Field != "old" {
		t.Fatalf("wrong old on the socket: %v", err)
	}
	if res, err := c.ChangePassword(ctx, PasswordChange{Old: "local-Secret", New: "other-Secret"}); err != nil || res.Message != "password changed" {
		t.Fatalf("change on the socket: %+v %v", res, err)
	}
	if hash, _, _ := mem.state(); !config.CheckPassword(hash, "other-Secret") {
		t.Error("the new password was not stored")
	}
	mem.mu.Lock()
	mem.hash = ""
	mem.mu.Unlock()
	if _, err := c.ChangePassword(ctx, PasswordChange{Old: "other-Secret", New: "third-Secret"}); !errors.As(err, &ae) || ae.Code != http.StatusConflict || !strings.Contains(ae.Message, "set one with setup") {
		t.Fatalf("change without a configured password: %v", err)
	}
}
