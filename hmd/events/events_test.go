package events

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestAppendPersistsAndBounds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.json")
	l, err := Open(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2012, 2, 14, 0, 19, 0, 0, time.UTC)
	for i, d := range []string{"Configuration successfully created", "Heartbeats have been setup successfully", "Active", "Failover invoked; starting application instance"} {
		peer := "10.10.10.13"
		if i == 2 {
			peer = "10.10.10.14"
		}
		if err := l.Append(Event{Time: t0.Add(time.Duration(i) * time.Second), Peer: peer, Description: d, GeneratedBy: "Primary"}); err != nil {
			t.Fatal(err)
		}
	}
	re, err := Open(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	all := re.List("", 0)
	if len(all) != 3 {
		t.Fatalf("kept %d events, want 3 (bounded)", len(all))
	}
	if all[0].Description != "Failover invoked; starting application instance" || all[2].Description != "Heartbeats have been setup successfully" {
		t.Fatalf("order after reload = %+v, want newest first", all)
	}
	if got := re.List("10.10.10.13", 0); len(got) != 2 {
		t.Fatalf("peer filter gave %d events, want 2", len(got))
	}
	if got := re.List("", 1); len(got) != 1 || got[0].Description != all[0].Description {
		t.Fatalf("limit 1 gave %+v", got)
	}
}

// TestOpenCorruptFileIsQuarantined: a log that does not decode is moved
// aside unchanged and the log starts empty, so hmd still runs.
func TestOpenCorruptFileIsQuarantined(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	d := l.Damaged()
	if d == nil || len(l.List("", 0)) != 0 {
		t.Fatalf("corrupt events log opened without a report: %+v", d)
	}
	data, _ := os.ReadFile(d.Quarantine)
	if string(data) != "{not json" {
		t.Fatalf("quarantined copy %s holds %q", d.Quarantine, data)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the damaged log is still in place: %v", err)
	}
}
