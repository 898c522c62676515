package api

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/events"
	"github.com/hafw/hafw/internal/tlsid"
)

// recorder is a Backend that records what the handler passed it; the API
// tests check the HTTP layer, not HA behaviour.
type recorder struct {
	pair       PairRequest
	peerPair   PeerPairRequest
	peerFP     string
	unpairFP   string
	failback   PeerRequest
	switchover PeerRequest
}

func (r *recorder) Status(context.Context) (Status, error) {
	return Status{Running: true, Role: "primary", State: "PRIMARY_ACTIVE", Peers: []PeerStatus{{HealthMonitorIP: "10.200.0.3"}}}, nil
}
func (r *recorder) Events(_ context.Context, peer string, limit int) ([]events.Event, error) {
	return []events.Event{{Description: "Active", GeneratedBy: "Primary", Peer: peer, Remarks: strings.Repeat("x", limit)}}, nil
}
func (r *recorder) Pair(_ context.Context, req PairRequest) (Result, error) {
	r.pair = req
	return Result{Message: "Configuration successfully created"}, nil
}
func (r *recorder) AcceptPair(_ context.Context, req PeerPairRequest, fp string) (PeerPairResponse, error) {
	r.peerPair, r.peerFP = req, fp
	return PeerPairResponse{Name: "mse2", InstanceSlot: 3}, nil
}
func (r *recorder) Switchover(_ context.Context, req PeerRequest) (Result, error) {
	r.switchover = req
	return Result{Message: "ok"}, nil
}
func (r *recorder) Failback(_ context.Context, req PeerRequest) (Result, error) {
	r.failback = req
	if !req.Force {
		return Result{}, Errorf(http.StatusConflict, "failback refused: stabilization window")
	}
	return Result{Message: "ok"}, nil
}
func (r *recorder) Unpair(context.Context, PeerRequest) (Result, error) { return Result{}, nil }
func (r *recorder) PeerUnpair(_ context.Context, fp string) (Result, error) {
	r.unpairFP = fp
	return Result{Message: "unpaired"}, nil
}

// serveTLS runs the remote API on a loopback port and returns its address.
func serveTLS(t *testing.T, b Backend, id tlsid.Identity, hash string) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	auth := &Password{Hash: func() string { return hash }, Check: config.CheckPassword}
	srv := &http.Server{Handler: NewHandler(b, auth, slog.New(slog.NewTextHandler(io.Discard, nil))), TLSConfig: id.ServerTLS()}
	go srv.Serve(tls.NewListener(ln, id.ServerTLS()))
	t.Cleanup(func() { srv.Close() })
	return netip.MustParseAddrPort(ln.Addr().String())
}

// remote builds a client for a loopback test server on a random port (the
// real client always uses Port).
func remote(ap netip.AddrPort, opt RemoteOptions) *Client {
	c := NewRemoteClient(ap.Addr(), opt)
	c.base = "https://" + ap.String()
	return c
}

func TestRemoteAPIAuthenticationPinningAndErrors(t *testing.T) {
	dir := t.TempDir()
	srvID, err := tlsid.LoadOrCreate(dir+"/srv", "mse2")
	if err != nil {
		t.Fatal(err)
	}
	cliID, err := tlsid.LoadOrCreate(dir+"/cli", "mse1")
	if err != nil {
		t.Fatal(err)
	}
	hash, err := config.HashPassword("secret-password")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	ap := serveTLS(t, rec, srvID, hash)
	ctx := context.Background()

	// No password: 401 with a JSON message.
	_, err = remote(ap, RemoteOptions{}).Status(ctx)
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != http.StatusUnauthorized {
		t.Fatalf("status without password: %v, want 401", err)
	}
	// Wrong password.
	_, err = remote(ap, RemoteOptions{Password: "wrong-password"}).Status(ctx)
	if !errors.As(err, &ae) || ae.Code != http.StatusUnauthorized {
		t.Fatalf("status with wrong password: %v, want 401", err)
	}
	// Right password, trust on first use records the fingerprint.
	c := remote(ap, RemoteOptions{Password: "secret-password"})
	st, err := c.Status(ctx)
	if err != nil || st.State != "PRIMARY_ACTIVE" {
		t.Fatalf("status: %+v %v", st, err)
	}
	if c.SeenFingerprint() != srvID.Fingerprint {
		t.Fatalf("seen fingerprint %s, want %s", c.SeenFingerprint(), srvID.Fingerprint)
	}
	// A wrong pin refuses the connection before any password is sent.
	bad := strings.Repeat("ab", 32)
	if _, err := remote(ap, RemoteOptions{Password: "secret-password", Pin: bad}).Status(ctx); err == nil || !strings.Contains(err.Error(), "pinned") {
		t.Fatalf("wrong pin: %v, want a pinning error", err)
	}
	// Pairing from a peer: password plus client certificate, pinned.
	pc := remote(ap, RemoteOptions{Password: "secret-password", Pin: srvID.Fingerprint, ClientCert: &cliID.Cert})
	req := PeerPairRequest{PrimaryName: "mse1", PrimaryHIP: "10.200.0.2", VIP: "10.200.0.10/24", Version: "1.0.0", UDI: "AIR-MSE-VA-K9:V01:x",
		Profile: "VA-Low", PairSettings: PairSettings{FailoverType: Automatic, FailbackType: Manual, FailoverWaitMS: 1000, HeartbeatIntervalMS: 100},
		Secret: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
	resp, err := pc.PeerPair(ctx, req)
	if err != nil || resp.InstanceSlot != 3 || rec.peerFP != cliID.Fingerprint {
		t.Fatalf("peer pair: %+v %v (fp %q, want %q)", resp, err, rec.peerFP, cliID.Fingerprint)
	}
	// Without a client certificate pairing is refused.
	if _, err := remote(ap, RemoteOptions{Password: "secret-password"}).PeerPair(ctx, req); !errors.As(err, &ae) || ae.Code != http.StatusBadRequest {
		t.Fatalf("peer pair without client cert: %v", err)
	}
	// Peer unpair needs only the certificate.
	if _, err := remote(ap, RemoteOptions{ClientCert: &cliID.Cert}).PeerUnpair(ctx); err != nil || rec.unpairFP != cliID.Fingerprint {
		t.Fatalf("peer unpair: %v fp=%q", err, rec.unpairFP)
	}
	// Field errors come back with field names.
	_, err = c.Pair(ctx, PairRequest{SecondaryName: "2bad", SecondaryIP: "10.200.0.300", FailoverType: "sometimes", FailbackType: Manual})
	if !errors.As(err, &ae) || ae.Code != http.StatusBadRequest {
		t.Fatalf("bad pair: %v", err)
	}
	got := map[string]bool{}
	for _, f := range ae.Fields {
		got[f.Field] = true
	}
	for _, f := range []string{"secondary_name", "secondary_ip", "secondary_password", "failover_type"} {
		if !got[f] {
			t.Errorf("missing field error for %s in %+v", f, ae.Fields)
		}
	}
	// Backend errors keep their status and message.
	if _, err := c.Failback(ctx, PeerRequest{}); !errors.As(err, &ae) || ae.Code != http.StatusConflict || !strings.Contains(ae.Message, "stabilization") {
		t.Fatalf("failback: %v", err)
	}
	if _, err := c.Failback(ctx, PeerRequest{Force: true}); err != nil || !rec.failback.Force {
		t.Fatalf("forced failback: %v", err)
	}
	evs, err := c.Events(ctx, "10.200.0.3", 2)
	if err != nil || len(evs) != 1 || evs[0].Peer != "10.200.0.3" || evs[0].Remarks != "xx" {
		t.Fatalf("events: %+v %v", evs, err)
	}
}

func TestLocalSocketIsTrusted(t *testing.T) {
	sock := t.TempDir() + "/hmd.sock"
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	srv := &http.Server{Handler: NewHandler(rec, Local{}, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c := NewUnixClient(sock)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Switchover(ctx, PeerRequest{Peer: "10.200.0.3"}); err != nil || rec.switchover.Peer != "10.200.0.3" {
		t.Fatalf("switchover over unix socket: %v %+v", err, rec.switchover)
	}
	if _, err := c.Pair(ctx, PairRequest{SecondaryName: "mse2", SecondaryIP: "10.200.0.3", SecondaryPassword: "pw", FailoverType: Automatic, FailbackType: Manual, LongFailoverWait: Duration(500 * time.Millisecond), TrustOnFirstUse: true}); err != nil {
		t.Fatal(err)
	}
	if time.Duration(rec.pair.LongFailoverWait) != 500*time.Millisecond {
		t.Fatalf("wait = %v", time.Duration(rec.pair.LongFailoverWait))
	}
}

func TestDecodeRequests(t *testing.T) {
	cases := []struct {
		body      string
		wantField string // "" = accepted
	}{
		{`{"secondary_name":"mse2","secondary_ip":"10.10.10.13","secondary_password":"x","failover_type":"automatic","failback_type":"manual","trust_on_first_use":true}`, ""},
		{`{"secondary_name":"mse2","secondary_ip":"10.10.10.13","secondary_password":"x","failover_type":"automatic","failback_type":"manual","trust_on_first_use":true,"long_failover_wait":0.5}`, ""},
		{`{"secondary_name":"mse2","secondary_ip":"10.10.10.13","secondary_password":"x","failover_type":"automatic","failback_type":"manual","trust_on_first_use":true,"long_failover_wait":"250ms"}`, ""},
		{`{"secondary_name":"mse2","secondary_ip":"10.10.10.13","secondary_password":"x","failover_type":"automatic","failback_type":"manual","trust_on_first_use":true,"long_failover_wait":"10 minutes"}`, "long_failover_wait"},
		{`{"secondary_name":"mse2","secondary_ip":"10.10.10.13","secondary_password":"x","failover_type":"automatic","failback_type":"manual","trust_on_first_use":true,"long_failover_wait":0.01}`, "long_failover_wait"},
		{`{"secondary_name":"mse2","secondary_ip":"10.10.10.13","secondary_password":"x","failover_type":"automatic","failback_type":"manual","trust_on_first_use":true,"long_failover_wait":1,"heartbeat_interval":"900ms"}`, "heartbeat_interval"},
		{`{"secondary_name":"mse2","secondary_ip":13,"secondary_password":"x","failover_type":"automatic","failback_type":"manual","trust_on_first_use":true}`, "secondary_ip"},
		{`{"secondary_name":"mse2","secondary_ip":"10.10.10.13","secondary_password":"x","failover_type":"automatic","failback_type":"manual","trust_on_first_use":true,"colour":"red"}`, "colour"},
		{`{"secondary_name":"mse2","secondary_ip":"10.10.10.13","secondary_password":"x","failover_type":"automatic","failback_type":"manual","trust_on_first_use":true,"witness":"::1"}`, "witness"},
		{`{"secondary_name":"mse2","secondary_ip":"10.10.10.13","secondary_password":"x","failover_type":"automatic","failback_type":"manual","trust_on_first_use":true,"witness":"10.10.10.40","witness_password":"y"}`, ""},
		{`{"secondary_name":"mse2","secondary_ip":"10.10.10.13","secondary_password":"x","failover_type":"automatic","failback_type":"manual","trust_on_first_use":true,"witness":"10.10.10.40"}`, "witness_password"},
		{`{"secondary_name":"mse2","secondary_ip":"10.10.10.13","secondary_password":"x","failover_type":"automatic","failback_type":"manual","trust_on_first_use":true,"witness_password":"y"}`, "witness"},
		{`{"secondary_name":"mse2","secondary_ip":"10.10.10.13","secondary_password":"x","failover_type":"automatic","failback_type":"manual","trust_on_first_use":true,"witness":"10.10.10.13","witness_password":"y"}`, "witness"},
		{`{"secondary_name":"mse2","secondary_ip":"10.10.10.13","secondary_password":"x","failover_type":"automatic","failback_type":"manual","trust_on_first_use":true,"witness":"10.10.10.40","witness_password":"y","witness_fingerprint":"abc"}`, "witness_fingerprint"},
	}
	for _, c := range cases {
		_, err := Decode[PairRequest](strings.NewReader(c.body))
		if c.wantField == "" {
			if err != nil {
				t.Errorf("%s: %v", c.body, err)
			}
			continue
		}
		var ae *Error
		if !errors.As(err, &ae) || len(ae.Fields) == 0 || ae.Fields[0].Field != c.wantField {
			t.Errorf("%s: got %v, want a field error on %s", c.body, err, c.wantField)
		}
	}
	if _, err := Decode[PeerRequest](strings.NewReader(`{} {}`)); err == nil {
		t.Error("trailing data accepted")
	}
	if _, err := Decode[PeerRequest](strings.NewReader(`{"peer":"` + strings.Repeat("1", MaxBody) + `"}`)); err == nil {
		t.Error("oversize body accepted")
	}
}
