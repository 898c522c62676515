package hmdtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/events"
	"github.com/hafw/hafw/hmd/instance"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
)

// TestFullCutLoserWritesAreQuarantined: without a witness a full cut
// lets both nodes serve, and a client that still talks to the primary
// (the side that loses: the secondary's takeover is the newer claim)
// gets its writes acknowledged there. After the heal the primary steps
// down and takes the secondary's data; its own writes from the cut are
// neither merged into the service's data nor dropped silently: they are
// moved to a quarantine file, named in its events log, and gethainfo and
// the console warn about them.
func TestFullCutLoserWritesAreQuarantined(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	l, p, s := appPair(t, "10.222.0", trackerApps(t, nil, nil))
	vip := l.addr(10)
	before := newWriter(l, vip)
	before.waitServing(t, 20*time.Second)
	for range 5 {
		if err := before.write(); err != nil {
			t.Fatalf("write before the cut: %v", err)
		}
	}
	waitTrue(t, 20*time.Second, "the writes replicated to the secondary", func() bool { return p.replication() == "Up" })

	heal := cutBetween(p, s)
	s.waitState(0, "FAILOVER_ACTIVE", 15*time.Second)
	// The loser's client: straight at the primary's own address. Its
	// commits wait for the unreachable standby (maximum availability)
	// until replication is marked Down, then go through.
	loser := newWriter(l, p.hip)
	loser.next = 1000
	waitTrue(t, 30*time.Second, "writes acknowledged by the primary during the cut", func() bool {
		loser.write()
		return loser.ackedCount() >= 3
	})
	winner := newWriter(l, s.hip)
	winner.next = 2000
	for range 3 {
		if err := winner.write(); err != nil {
			t.Fatalf("write to the secondary during the cut: %v", err)
		}
	}
	heal()
	p.waitState(0, "TERMINATED", 15*time.Second)
	waitTrue(t, 60*time.Second, "the secondary's data replicated back to the primary", func() bool { return s.replication() == "Up" })

	// The service's data is the winner's: its writes present, the loser's
	// absent (not merged).
	check := newWriter(l, vip)
	code, body, err := check.request("GET", "/v1/elements", "", writeTimeout)
	if err != nil || code != 200 {
		t.Fatalf("read the elements: %d %v", code, err)
	}
	for i := range 3 {
		if !strings.Contains(body, fmt.Sprintf(`"w%d"`, 2000+i)) {
			t.Errorf("the winner's write w%d is missing from the service's data", 2000+i)
		}
	}
	for i := range loser.acked {
		if strings.Contains(body, fmt.Sprintf(`"w%d"`, i)) {
			t.Errorf("the loser's write w%d was merged into the service's data", i)
		}
	}

	// The loser's writes are in its quarantine file, and its events log
	// says where.
	var row events.Event
	netnstest.Eventually(t, 20*time.Second, "the quarantine event on the primary", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		evs, err := p.api().Events(ctx, "", 0)
		if err != nil {
			return false
		}
		for _, e := range evs {
			if e.Description == instance.MsgQuarantined {
				row = e
				return true
			}
		}
		return false
	})
	path := row.Remarks[strings.LastIndex(row.Remarks, " ")+1:]
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the quarantine file named in %q: %v", row.Remarks, err)
	}
	for i := range loser.acked {
		if !strings.Contains(string(data), fmt.Sprintf("w%d", i)) {
			t.Errorf("the loser's acknowledged write w%d is not in the quarantine file %s", i, path)
		}
	}
	// gethainfo (and the console, from the same status) warns about them.
	if info := p.gethainfo(); !strings.Contains(info, "quarantined, not merged: "+row.Remarks) {
		t.Errorf("gethainfo on the primary does not warn about the quarantined writes:\n%s", info)
	}
	t.Logf("%d writes the loser acknowledged during the cut: quarantined in %s (%s), none merged; the winner's 3 present", len(loser.acked), path, row.Remarks)
}
