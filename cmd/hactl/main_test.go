package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/events"
)

// exitCase is an hactl command line with the exit status and a piece of
// the standard error it must give.
type exitCase struct {
	args []string
	code int
	want string
}

// checkExits runs each command line in-process (no hmd listens on the
// sockets the cases name).
func checkExits(t *testing.T, cases []exitCase) {
	t.Helper()
	for _, c := range cases {
		var out, errOut bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		code := run(ctx, c.args, &out, &errOut)
		cancel()
		if code != c.code || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("hactl %v: exit %d, stderr %q; want exit %d and %q", c.args, code, errOut.String(), c.code, c.want)
		}
	}
}

func TestExitStatus(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	checkExits(t, []exitCase{
		{nil, 2, "usage: hactl"},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"--socket", sock, "failback", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"--socket", sock, "switchover", "extra"}, 2, "unexpected arguments"},
		{[]string{"--socket", sock, "status"}, 1, "hactl status: hmd is not running: nothing answers on " + sock},
		{[]string{"--socket", sock, "switchover", "-h"}, 0, "switch even within the stabilization window"},
		{[]string{"--socket", sock, "unpair", "-h"}, 0, "delete the pair here even if the peer cannot be told"},
	})
}

func TestPrintEventsUsesTheSeedColumns(t *testing.T) {
	var b bytes.Buffer
	err := printEvents(&b, []events.Event{{Time: time.Date(2012, 2, 14, 0, 19, 0, 0, time.UTC), Description: "Heartbeats have been setup successfully", GeneratedBy: "Primary"}})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "Event Description") || !strings.Contains(lines[1], "2012-Feb-14, 00:19:00 UTC") || !strings.HasSuffix(lines[1], "-") {
		t.Fatalf("events table:\n%s", b.String())
	}
}
