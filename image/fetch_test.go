package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// payload is a fake kernel served by the test servers on loopback.
var payload = func() []byte {
	b := make([]byte, 3<<20)
	for i := range b {
		b[i] = byte(i * 7 % 251)
	}
	return b
}()

func payloadSum() string {
	s := sha256.Sum256(payload)
	return hex.EncodeToString(s[:])
}

// serve serves payload with range support and counts requests.
func serve(t *testing.T, body []byte) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.ServeContent(w, r, "vmlinuz", testEpoch, strings.NewReader(string(body)))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestFetchVerifiesAndCaches(t *testing.T) {
	srv, hits := serve(t, payload)
	f := Fetcher{CacheDir: t.TempDir()}
	path, err := f.Fetch(context.Background(), srv.URL+"/vmlinuz", strings.ToUpper(payloadSum()))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := fileSHA256(path); got != payloadSum() {
		t.Fatalf("cached file has SHA-256 %s", got)
	}
	before := hits.Load()
	again, err := f.Fetch(context.Background(), srv.URL+"/vmlinuz", payloadSum())
	if err != nil || again != path {
		t.Fatalf("second fetch: %v %v", again, err)
	}
	if hits.Load() != before {
		t.Fatalf("second fetch of a cached hash went to the network")
	}
}

func TestFetchWrongChecksum(t *testing.T) {
	srv, _ := serve(t, payload)
	cache := t.TempDir()
	wrong := strings.Repeat("ab", 32)
	_, err := Fetcher{CacheDir: cache}.Fetch(context.Background(), srv.URL+"/vmlinuz", wrong)
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
	assertNothingCached(t, cache)
	if _, err := (Fetcher{CacheDir: cache}).Fetch(context.Background(), srv.URL, "xyz"); err == nil || !strings.Contains(err.Error(), "64 hex digits") {
		t.Fatalf("malformed checksum: %v", err)
	}
}

// TestFetchTruncatedThenResumed: the server dies half-way; the build fails
// with a clear error and no cached file, and the next attempt resumes the
// partial download with a range request.
func TestFetchTruncatedThenResumed(t *testing.T) {
	half := len(payload) / 2
	var ranges atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
			w.Header().Set("Accept-Ranges", "bytes")
			return
		}
		if r.Header.Get("Range") != "" {
			ranges.Add(1)
			http.ServeContent(w, r, "vmlinuz", testEpoch, strings.NewReader(string(payload)))
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
		w.Header().Set("Accept-Ranges", "bytes")
		w.Write(payload[:half])
		// Hijack and close: the client sees a short body.
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	cache := t.TempDir()
	f := Fetcher{CacheDir: cache}
	_, err := f.Fetch(context.Background(), srv.URL+"/vmlinuz", payloadSum())
	if err == nil {
		t.Fatal("truncated download succeeded")
	}
	assertNothingCached(t, cache)
	path, err := f.Fetch(context.Background(), srv.URL+"/vmlinuz", payloadSum())
	if err != nil {
		t.Fatalf("resumed download: %v", err)
	}
	if got, _ := fileSHA256(path); got != payloadSum() {
		t.Fatalf("resumed file has SHA-256 %s", got)
	}
	if ranges.Load() == 0 {
		t.Fatal("second attempt did not resume with a range request")
	}
}

func TestFetchUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	cache := t.TempDir()
	_, err = Fetcher{CacheDir: cache}.Fetch(context.Background(), "http://"+addr+"/vmlinuz", payloadSum())
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("err = %v, want one naming %s", err, addr)
	}
	assertNothingCached(t, cache)
}

// assertNothingCached: no verified file may exist after a failure.
func assertNothingCached(t *testing.T, cache string) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(cache, "sha256", "*"))
	for _, p := range m {
		if !strings.HasSuffix(p, ".part") {
			t.Errorf("failed download left %s", p)
		}
	}
	if _, err := os.Stat(filepath.Join(cache, "sha256", payloadSum())); err == nil {
		t.Error("failed download produced a cached file")
	}
}

// TestFetchRehashesCachedFile: a cached file changed after it was verified
// is not used under its name: it is fetched again. Before, the cache
// trusted the name and handed out the changed file.
func TestFetchRehashesCachedFile(t *testing.T) {
	srv, hits := serve(t, payload)
	f := Fetcher{CacheDir: t.TempDir()}
	path, err := f.Fetch(context.Background(), srv.URL+"/vmlinuz", payloadSum())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("not the kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := hits.Load()
	again, err := f.Fetch(context.Background(), srv.URL+"/vmlinuz", payloadSum())
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := fileSHA256(again); got != payloadSum() {
		t.Fatalf("fetch returned a cached file with SHA-256 %s, want %s", got, payloadSum())
	}
	if hits.Load() == before {
		t.Fatal("the changed cached file was not fetched again")
	}
}
