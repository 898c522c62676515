package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/api"
)

// settingsHMD is an hmd that only takes settings changes and remembers
// the last.
type settingsHMD struct {
	api.Backend // not called
	got         api.SettingsRequest
}

func (s *settingsHMD) UpdateSettings(_ context.Context, req api.SettingsRequest) (api.Result, error) {
	s.got = req
	return api.Result{Message: "Configuration updated on both appliances"}, nil
}

func (s *settingsHMD) PeerSettings(context.Context, api.PeerSettingsRequest, string) (api.Result, error) {
	return api.Result{}, nil
}

// TestSetSendsOnlyTheFlagsGiven: a flag left out is a setting left as it
// is, an empty --witness removes the witness, and a command without a
// setting is a usage error.
func TestSetSendsOnlyTheFlagsGiven(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "hmd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	b := &settingsHMD{}
	srv := &http.Server{Handler: api.NewHandler(b, api.Local{}, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	t.Setenv("HAFW_WITNESS_PASSWORD", "from-env")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--failover", "automatic", "--wait", "5s"}, `failover=automatic failback=- wait=5s interval=- witness=- pw=""`},
		{[]string{"--peer", "10.246.0.3", "--interval", "0s"}, `failover=- failback=- wait=- interval=0s witness=- pw=""`},
		{[]string{"--witness", ""}, `failover=- failback=- wait=- interval=- witness= pw=""`},
		{[]string{"--witness", "10.246.0.4", "--witness-fingerprint", strings.Repeat("ab", 32)}, `failover=- failback=- wait=- interval=- witness=10.246.0.4 pw="from-env"`},
	} {
		var out, errOut bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		code := run(ctx, append([]string{"--socket", sock, "set"}, tc.args...), &out, &errOut)
		cancel()
		if code != 0 || !strings.Contains(out.String(), "Configuration updated") {
			t.Fatalf("hactl set %v: exit %d, %q %q", tc.args, code, out.String(), errOut.String())
		}
		if got := describe(b.got); got != tc.want {
			t.Errorf("hactl set %v sent %s, want %s", tc.args, got, tc.want)
		}
	}
	checkExits(t, []exitCase{
		{[]string{"--socket", sock, "set"}, 2, "name a setting to change"},
		{[]string{"--socket", sock, "set", "--wait", "soon"}, 2, "invalid value"},
		{[]string{"--socket", sock, "set", "-h"}, 0, "'' removes the witness"},
	})
}

func describe(r api.SettingsRequest) string {
	str := func(p *string) string {
		if p == nil {
			return "-"
		}
		return *p
	}
	dur := func(p *api.Duration) string {
		if p == nil {
			return "-"
		}
		return time.Duration(*p).String()
	}
	return "failover=" + str(r.FailoverType) + " failback=" + str(r.FailbackType) + " wait=" + dur(r.LongFailoverWait) +
		" interval=" + dur(r.HeartbeatInterval) + " witness=" + str(r.Witness) + ` pw="` + r.WitnessPassword + `"`
}
