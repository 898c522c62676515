package api

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/tlsid"
)

// withSessions is the recorder with a console's session listing.
type withSessions struct {
	*recorder
	list []Session
}

func (w withSessions) Sessions() []Session { return w.list }

// TestSessionsRoute: GET /v1/sessions needs the appliance password over
// TLS and is open on the local socket, and lists what the console says.
func TestSessionsRoute(t *testing.T) {
	dir := t.TempDir()
	srvID, err := tlsid.LoadOrCreate(dir+"/srv", "mse1")
	if err != nil {
		t.Fatal(err)
	}
	hash, err := config.HashPassword("secret-password")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2015, 3, 8, 11, 44, 54, 0, time.UTC)
	want := []Session{{ID: 1, User: AdminUser, UserID: AdminUserID, IP: "10.48.39.238", Started: at, LastAccess: at.Add(time.Hour)}}
	b := withSessions{&recorder{}, want}
	// No deadline of its own: each password check is a deliberately slow
	// hash, and a busy machine must not fail the test (go test's -timeout
	// bounds a hang).
	ctx := t.Context()

	ap := serveTLS(t, b, srvID, hash)
	var ae *Error
	if _, err := remote(ap, RemoteOptions{}).Sessions(ctx); !errors.As(err, &ae) || ae.Code != http.StatusUnauthorized {
		t.Fatalf("sessions without password: %v, want 401", err)
	}
	if _, err := remote(ap, RemoteOptions{Password: "wrong-password"}).Sessions(ctx); !errors.As(err, &ae) || ae.Code != http.StatusUnauthorized {
		t.Fatalf("sessions with a wrong password: %v, want 401", err)
	}
	if got, err := remote(ap, RemoteOptions{Password: "secret-password"}).Sessions(ctx); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("sessions over TLS: %+v %v", got, err)
	}

	sock := dir + "/hmd.sock"
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: NewHandler(withSessions{&recorder{}, nil}, Local{}, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	if got, err := NewUnixClient(sock).Sessions(ctx); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("no sessions on the local socket: %#v %v, want an empty list", got, err)
	}
}
