package notify

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/snmptest"
)

// freeUDPPort finds a UDP port on loopback nobody listens on.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func openService(t *testing.T, timeout time.Duration) *Service {
	t.Helper()
	s, err := Open(Options{Path: filepath.Join(t.TempDir(), "notify.json"), Node: "mse1", Timeout: timeout, Log: slogDiscard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestRealReceiver sends v2c traps, v3 authPriv traps and v3 informs to
// net-snmp's snmptrapd and reads them back decoded with HAFW-MIB: names,
// not numbers, in the order they were published. Wrong v3 keys on an
// inform, and an inform to nobody, fail with a clear error.
func TestRealReceiver(t *testing.T) {
	s := openService(t, time.Second)
	port := freeUDPPort(t)
	trapd := snmptest.Start(t, nil, snmptest.Config{
		Listen: fmt.Sprintf("127.0.0.1:%d", port), Community: "c0mmunity",
		Users: []snmptest.User{
			{Name: "trapuser", AuthKey: "auth-pass-1", PrivKey: "priv-pass-1", EngineID: s.EngineID()},
			{Name: "informuser", AuthKey: "auth-pass-2", PrivKey: "priv-pass-2"},
		},
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for _, d := range []Destination{
		{Name: "v2c", Address: addr, Version: V2c, Community: "c0mmunity"},
		{Name: "v3trap", Address: addr, Version: V3, User: "trapuser", AuthProtocol: AuthSHA, AuthKey: "auth-pass-1", PrivProtocol: PrivAES, PrivKey: "priv-pass-1"},
		{Name: "v3inform", Address: addr, Version: V3, User: "informuser", AuthProtocol: AuthSHA, AuthKey: "auth-pass-2", PrivProtocol: PrivAES, PrivKey: "priv-pass-2", Inform: true},
	} {
		if err := s.PutDestination(d); err != nil {
			t.Fatalf("put %s: %v", d.Name, err)
		}
	}
	now := time.Now()
	s.Publish(
		Event{Time: now, Type: TypeStateChange, Severity: Warning, Peer: "10.250.0.3", OldState: "SECONDARY_ACTIVE", NewState: "FAILOVER_INVOKED", Text: "HA state changed"},
		Event{Time: now, Type: TypeFailoverCompleted, Severity: Critical, Peer: "10.250.0.3", NewState: "FAILOVER_ACTIVE", Text: "Failover completed"},
	)
	netnstest.Eventually(t, 20*time.Second, "six notifications", func() bool { return len(trapd.Traps()) >= 6 })
	var order []string
	for _, line := range trapd.Traps() {
		for _, want := range []string{"HAFW-MIB::hafwEventSeverity.0", "HAFW-MIB::hafwEventNode.0 = STRING: mse1\t", "HAFW-MIB::hafwEventPeer.0 = STRING: 10.250.0.3\t"} {
			if !strings.Contains(line, want) {
				t.Errorf("notification lacks %q:\n%s", want, line)
			}
		}
		switch {
		case strings.Contains(line, "OID: HAFW-MIB::hafwHAStateChange"):
			if !strings.Contains(line, "hafwEventOldState.0 = STRING: SECONDARY_ACTIVE\t") || !strings.Contains(line, "warning(2)") {
				t.Errorf("state change decoded as:\n%s", line)
			}
			order = append(order, "change")
		case strings.Contains(line, "OID: HAFW-MIB::hafwFailoverCompleted"):
			if !strings.Contains(line, "critical(3)") {
				t.Errorf("failover completed decoded as:\n%s", line)
			}
			order = append(order, "completed")
		default:
			t.Errorf("unexpected notification:\n%s", line)
		}
	}
	// Each destination delivers in order; destinations interleave.
	if got := strings.Count(strings.Join(order, " "), "change"); got != 3 {
		t.Errorf("%d state changes arrived, want 3 (one per destination): %v", got, order)
	}
	views := s.Destinations()
	for _, v := range views {
		if v.Sent != 2 || v.Failed != 0 {
			t.Errorf("destination %s: sent %d failed %d (%s)", v.Name, v.Sent, v.Failed, v.LastError)
		}
	}

	// The test button: an inform with the right keys is acknowledged...
	ctx := context.Background()
	if err := s.Test(ctx, "v3inform"); err != nil {
		t.Errorf("test inform: %v", err)
	}
	netnstest.Eventually(t, 10*time.Second, "the test notification", func() bool {
		return strings.Contains(strings.Join(trapd.Traps(), "\n"), "HAFW-MIB::hafwTest")
	})
	// ...with a wrong key it is refused, and the error says why.
	bad := Destination{Name: "wrongkey", Address: addr, Version: V3, User: "informuser", AuthProtocol: AuthSHA, AuthKey: "wrong-pass", PrivProtocol: PrivAES, PrivKey: "priv-pass-2", Inform: true}
	if err := s.PutDestination(bad); err != nil {
		t.Fatal(err)
	}
	err := s.Test(ctx, "wrongkey")
	if err == nil || !strings.Contains(err.Error(), "wrong SNMPv3 authentication key") {
		t.Errorf("inform with a wrong authentication key: err %v, want one naming the authentication key", err)
	}
	// An inform to a port nobody listens on times out with an error.
	dead := Destination{Name: "dead", Address: fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t)), Version: V3, User: "informuser", AuthProtocol: AuthSHA, AuthKey: "auth-pass-2", PrivProtocol: PrivAES, PrivKey: "priv-pass-2", Inform: true}
	if err := s.PutDestination(dead); err != nil {
		t.Fatal(err)
	}
	if err := s.Test(ctx, "dead"); err == nil {
		t.Error("an inform nobody acknowledged passed the test")
	}
	if err := s.Test(ctx, "nonesuch"); err == nil || !strings.Contains(err.Error(), "no such trap destination") {
		t.Errorf("test of an unknown destination: %v", err)
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }
