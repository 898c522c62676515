package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/instance"
)

// The tracker against a real instance database behind its unix socket.
func TestTrackerStoresThroughInstanceAPI(t *testing.T) {
	dir := t.TempDir()
	db, err := instance.Open(filepath.Join(dir, "instance.db"), instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sock := filepath.Join(dir, "i.sock")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- instance.Serve(ctx, sock, instance.Handler(db, quiet)) }()
	defer func() { cancel(); <-done }()
	srv := httptest.NewServer(newTracker(instance.NewClient(sock), quiet))
	defer srv.Close()

	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var code int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if code, _ = do("PUT", "/v1/elements/tag-1", `{"floor":"1F","x":1.5,"y":2}`); code == 200 {
			break
		}
	}
	if code != 200 {
		t.Fatalf("PUT: %d", code)
	}
	if code, body := do("GET", "/v1/elements/tag-1", ""); code != 200 || !strings.Contains(body, `"floor":"1F"`) {
		t.Fatalf("GET: %d %s", code, body)
	}
	if v, err := db.Get([]byte("element/tag-1")); err != nil || !strings.Contains(string(v), `"x":1.5`) {
		t.Fatalf("stored: %q %v", v, err)
	}
	do("PUT", "/v1/elements/tag-2", `{"floor":"2F"}`)
	code, body := do("GET", "/v1/elements", "")
	var list []Element
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list) != 2 {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, _ := do("PUT", "/v1/elements/bad%20id", `{}`); code != 400 {
		t.Fatalf("bad id: %d", code)
	}
	if code, _ := do("PUT", "/v1/elements/tag-3", `{"floor":`); code != 400 {
		t.Fatalf("bad body: %d", code)
	}
	if code, _ := do("DELETE", "/v1/elements/tag-1", ""); code != 200 {
		t.Fatalf("DELETE: %d", code)
	}
	if code, _ := do("GET", "/v1/elements/tag-1", ""); code != 404 {
		t.Fatalf("GET after delete: %d", code)
	}
}
