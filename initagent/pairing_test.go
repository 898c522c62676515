package initagent

import (
	"errors"
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
