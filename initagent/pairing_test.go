package initagent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hwprofiles"
)

func TestCheckPeers(t *testing.T) {
	for _, tc := range []struct {
		role  config.Role
		self  string
		peers []string
		ok    bool
	}{
		{config.RolePrimary, "VA-Low", []string{"VA-High"}, true},
		{config.RolePrimary, "VA-High", []string{"VA-Low"}, false}, // secondary below primary
		{config.RolePrimary, "3310", []string{"VA-High"}, false},   // physical with virtual
		{config.RoleSecondary, "3355", []string{"3310", "3350"}, true},
		{config.RoleSecondary, "3310", []string{"3310", "3310"}, false}, // N:1 not supported on a 3310
		{config.RolePrimary, "VA-High", []string{""}, true},             // peer profile unknown yet
		{config.RoleNone, "VA-High", []string{"3310"}, true},
	} {
		err := CheckPeers(tc.role, tc.self, tc.peers)
		if tc.ok != (err == nil) {
			t.Errorf("CheckPeers(%s, %s, %v) = %v, want ok=%v", tc.role, tc.self, tc.peers, err, tc.ok)
		}
		if err != nil && !errors.Is(err, hwprofiles.ErrUnsupportedPairing) {
			t.Errorf("error %v is not ErrUnsupportedPairing", err)
		}
	}
	if err := CheckPeers(config.RolePrimary, "unknown", nil); err == nil {
		t.Error("unknown own profile accepted")
	}
}

// fakeHMD answers the agent's status questions for the pure logic around
// them.
type fakeHMD struct {
	st  HMDStatus
	err error
}

func (f fakeHMD) Status(context.Context) (HMDStatus, error) { return f.st, f.err }

// TestBootPairingCheckAsksHMD: the boot's pairing check reads the peers'
// models from hmd's status and reports an unsupported pair on the console;
// without an answer from hmd it reports nothing.
func TestBootPairingCheckAsksHMD(t *testing.T) {
	for _, c := range []struct {
		name string
		hmd  HMD
		want string
	}{
		{"unsupported", fakeHMD{st: HMDStatus{Running: true, Role: config.RolePrimary, PeerProfiles: []string{"VA-Low"}}}, "UNSUPPORTED HA PAIR"},
		{"supported", fakeHMD{st: HMDStatus{Running: true, Role: config.RolePrimary, PeerProfiles: []string{"VA-High"}}}, ""},
		{"hmd silent", fakeHMD{err: errors.New("connection refused")}, ""},
		{"no client", nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			console := &strings.Builder{}
			a := &Agent{HMD: c.hmd, Console: console, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			r := &runtime{a: a, b: &bootState{role: config.RolePrimary, profile: "VA-High"}}
			r.checkPairing(context.Background())
			if got := console.String(); (c.want == "") != (got == "") || !strings.Contains(got, c.want) || (c.want != "") != (r.pairing != "") {
				t.Errorf("console %q, pairing %q; want %q", got, r.pairing, c.want)
			}
		})
	}
}
