package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/notify"
)

// withNotify is the recorder with a real notification service.
type withNotify struct {
	*recorder
	*notify.Service
}

// TestTrapRoutes: destinations are saved, listed without secrets, refused
// field by field, and a missing one is a 404.
func TestTrapRoutes(t *testing.T) {
	svc, err := notify.Open(notify.Options{Path: filepath.Join(t.TempDir(), "notify.json"), Node: "mse1", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	sock := t.TempDir() + "/hmd.sock"
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: NewHandler(withNotify{&recorder{}, svc}, Local{}, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c := NewUnixClient(sock)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, err := c.PutTrap(ctx, TrapDestination{Name: "nms", Address: "10.200.0.9", Version: notify.V2c, Community: "s3cret-community"}); err != nil {
		t.Fatal(err)
	}
	l, err := c.Traps(ctx)
	if err != nil || len(l.Destinations) != 1 || l.Destinations[0].Address != "10.200.0.9" || l.EngineID == "" {
		t.Fatalf("list: %+v %v", l, err)
	}
	_, err = c.PutTrap(ctx, TrapDestination{Name: "bad", Address: "nms.example", Version: "v1"})
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != http.StatusBadRequest || len(ae.Fields) != 2 || ae.Fields[0].Field != "address" {
		t.Fatalf("malformed destination: %#v", err)
	}
	if _, err := c.DeleteTrap(ctx, "ghost"); !errors.As(err, &ae) || ae.Code != http.StatusNotFound {
		t.Fatalf("delete missing: %v", err)
	}
	if _, err := c.TestTrap(ctx, "ghost"); !errors.As(err, &ae) || ae.Code != http.StatusNotFound {
		t.Fatalf("test missing: %v", err)
	}
	if _, err := c.SetNotifyRules(ctx, []notify.Rule{{Name: "r1", Target: "trap:ghost"}}); !errors.As(err, &ae) || ae.Code != http.StatusBadRequest || !strings.Contains(ae.Error(), "ghost") {
		t.Fatalf("rule to a missing destination: %v", err)
	}
	if _, err := c.SetNotifyRules(ctx, []notify.Rule{{Name: "r1", Types: []notify.Type{notify.TypeCoreDown}, Target: "trap:nms"}}); err != nil {
		t.Fatal(err)
	}
	if rules, err := c.NotifyRules(ctx); err != nil || len(rules) != 1 || rules[0].Target != "trap:nms" {
		t.Fatalf("rules: %+v %v", rules, err)
	}
	if _, err := c.DeleteTrap(ctx, "nms"); err == nil {
		t.Fatal("deleted a destination a rule sends to")
	}
}
