package daemon

import (
	"strings"
	"testing"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/heartbeat"
)

func TestVersionSkew(t *testing.T) {
	for _, c := range []struct {
		name string
		hb   heartbeat.PeerStatus
		want string
	}{
		{"not heard", heartbeat.PeerStatus{}, ""},
		{"same", heartbeat.PeerStatus{Wire: heartbeat.Version, Firmware: "2.0"}, ""},
		{"newer peer", heartbeat.PeerStatus{Wire: heartbeat.Version, Firmware: "2.1"}, "this appliance runs 2.0, the peer 2.1"},
		{"peer on firmware that does not tell", heartbeat.PeerStatus{Wire: heartbeat.MinVersion}, "this appliance runs 2.0, the peer an older firmware (heartbeat format 2)"},
	} {
		if got := versionSkew("2.0", c.hb); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		ps := api.PeerStatus{Version: "1.0"}
		applyVersion(&ps, "2.0", c.hb)
		if (c.want != "") != (len(ps.Warnings) == 1 && strings.HasPrefix(ps.Warnings[0], WarnVersionMismatch)) {
			t.Errorf("%s: warnings %q", c.name, ps.Warnings)
		}
		if c.hb.Firmware != "" && ps.Version != c.hb.Firmware {
			t.Errorf("%s: shown version %q, want the heard %q", c.name, ps.Version, c.hb.Firmware)
		}
	}
}
