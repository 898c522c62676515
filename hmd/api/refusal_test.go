package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/refusal"
)

// TestEveryRefusalHasAStatus: a reason the daemon may give without a row
// in refusalStatus would reach the operator as a 500, an internal error,
// for what is a refusal.
func TestEveryRefusalHasAStatus(t *testing.T) {
	for _, r := range refusal.All() {
		code, ok := refusalStatus[r]
		if !ok {
			t.Errorf("refusal %s has no HTTP status in refusalStatus", r)
			continue
		}
		if code < 400 || code > 599 || http.StatusText(code) == "" {
			t.Errorf("refusal %s maps to %d, not an HTTP error status", r, code)
		}
		ae := FromValidation(refusal.New(r, "no"))
		if ae.Code != code || ae.Reason != r.String() || ae.Message != "no" {
			t.Errorf("refusal %s answered as %d %q %q, want %d %q \"no\"", r, ae.Code, ae.Reason, ae.Message, code, r)
		}
	}
}

// refuser is a Backend whose operator commands fail with err.
type refuser struct {
	recorder
	err error
}

func (r *refuser) Switchover(context.Context, PeerRequest) (Result, error) { return Result{}, r.err }

// TestRefusalsThroughTheHandler: a refusal from the backend reaches the
// client as its reason's status and a JSON body with the message, the
// reason code and the fields, however the backend wrapped it.
func TestRefusalsThroughTheHandler(t *testing.T) {
	b := &refuser{}
	sock := t.TempDir() + "/hmd.sock"
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: NewHandler(b, Local{}, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	t.Cleanup(hc.CloseIdleConnections)

	peerSaidInvalid := Invalid(FieldError{Field: "vip", Reason: "is not on the subnet"})
	cases := []struct {
		name   string
		err    error
		status int
		reason string
		fields []FieldError
	}{
		{"state machine refused", refusal.New(refusal.CommandRefused, "switchover refused: not in PRIMARY_ACTIVE"),
			http.StatusConflict, "command-refused", nil},
		{"wrapped", fmt.Errorf("switchover: %w", refusal.New(refusal.NotPaired, "this appliance is not paired")),
			http.StatusConflict, "not-paired", nil},
		{"bad field", &refusal.Error{Reason: refusal.PeerRequired, Message: "invalid request",
			Fields: []refusal.Field{{Name: "peer", Reason: "this appliance has 2 peers: name one by its health monitor IP"}}},
			http.StatusBadRequest, "peer-required", []FieldError{{Field: "peer", Reason: "this appliance has 2 peers: name one by its health monitor IP"}}},
		{"not a peer", refusal.New(refusal.NotAPeer, "not a paired peer"), http.StatusForbidden, "not-a-peer", nil},
		{"peer silent", &refusal.Error{Reason: refusal.PeerUnreachable, Message: "cannot reach the peer at 10.200.0.3", Err: errors.New("i/o timeout")},
			http.StatusBadGateway, "peer-unreachable", nil},
		{"peer found it invalid", &refusal.Error{Reason: refusal.PeerRefused, Message: "the peer 10.200.0.3 refused: invalid request", Err: peerSaidInvalid,
			Fields: []refusal.Field{{Name: "vip", Reason: "is not on the subnet"}}},
			http.StatusBadRequest, "peer-refused", []FieldError{{Field: "vip", Reason: "is not on the subnet"}}},
		{"peer refused", &refusal.Error{Reason: refusal.PeerRefused, Message: "the peer 10.200.0.3 refused: already paired", Err: Errorf(http.StatusConflict, "already paired")},
			http.StatusConflict, "peer-refused", nil},
		{"unavailable", refusal.New(refusal.Unavailable, "boot slots unknown"), http.StatusServiceUnavailable, "unavailable", nil},
		{"no refusal", errors.New("disk on fire"), http.StatusInternalServerError, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b.err = tc.err
			resp, err := hc.Post("http://hmd/v1/switchover", "application/json", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error  string       `json:"error"`
				Reason string       `json:"reason"`
				Fields []FieldError `json:"fields"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("body: %v", err)
			}
			var re *refusal.Error
			wantMsg := tc.err.Error()
			if errors.As(tc.err, &re) {
				wantMsg = re.Message
			}
			if resp.StatusCode != tc.status || body.Reason != tc.reason || body.Error != wantMsg || fmt.Sprint(body.Fields) != fmt.Sprint(tc.fields) {
				t.Fatalf("answered %d %+v, want %d reason %q error %q fields %v", resp.StatusCode, body, tc.status, tc.reason, wantMsg, tc.fields)
			}
		})
	}

	// The client hands the reason code on to its caller.
	b.err = refusal.New(refusal.CommandRefused, "switchover refused")
	_, err = NewUnixClient(sock).Switchover(context.Background(), PeerRequest{})
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != http.StatusConflict || ae.Reason != "command-refused" {
		t.Fatalf("client got %#v, want a 409 with reason command-refused", err)
	}
}
