package plan

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// codecCases are tasks with every field set, with none but the ID, and
// with values a naive encoding gets wrong (negative numbers, times before
// 1970 or in other zones, empty strings inside lists).
func codecCases() []Task {
	at := time.Date(2026, 11, 22, 7, 0, 0, 123456789, time.UTC)
	return []Task{
		{ID: "only-id"},
		{ID: "full", Command: []string{"sh", "-c", "echo 'x'", ""}, Schedule: at, Retries: 3, Status: Running,
			Failure: CoreDown, Core: 12, Partition: "site-a", Parent: "g", Children: []string{"g.1", "g.2"},
			Critical: true, ClaimLease: 7587890123456789012, Started: at.Add(time.Second), Finished: at.Add(time.Hour),
			Output: strings.Repeat("out\n", 100)},
		{ID: "odd", Retries: -1, Core: -5, ClaimLease: -1, Schedule: time.Date(1901, 1, 1, 0, 0, 0, 1, time.FixedZone("x", 5*3600+30*60)),
			Status: Paused},
	}
}

// sameTask compares tasks with times by instant and zone offset (a
// decoded time.Time carries an equivalent, not the same, *Location).
func sameTask(a, b Task) bool {
	sameTime := func(x, y time.Time) bool {
		_, ox := x.Zone()
		_, oy := y.Zone()
		return x.Equal(y) && ox == oy
	}
	if !sameTime(a.Schedule, b.Schedule) || !sameTime(a.Started, b.Started) || !sameTime(a.Finished, b.Finished) {
		return false
	}
	a.Schedule, a.Started, a.Finished = time.Time{}, time.Time{}, time.Time{}
	b.Schedule, b.Started, b.Finished = time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func TestTaskBinaryRoundTrip(t *testing.T) {
	for _, tk := range codecCases() {
		b, err := tk.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] == '{' {
			t.Fatalf("%s: binary value starts with '{' and would be read as JSON", tk.ID)
		}
		back, err := DecodeTask(b)
		if err != nil {
			t.Fatalf("%s: %v", tk.ID, err)
		}
		if !sameTask(back, tk) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", tk.ID, back, tk)
		}
		// The JSON form of the same task is no smaller.
		j, _ := json.Marshal(tk)
		if len(b) > len(j) {
			t.Errorf("%s: binary %d bytes, JSON %d", tk.ID, len(b), len(j))
		}
	}
}

// Values written by the JSON-storing version stay readable.
func TestDecodeTaskReadsJSON(t *testing.T) {
	tk := codecCases()[1]
	j, err := json.Marshal(tk)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeTask(j)
	if err != nil {
		t.Fatal(err)
	}
	if !sameTask(back, tk) {
		t.Errorf("JSON value decoded as %+v, want %+v", back, tk)
	}
}

func TestDecodeTaskRejectsDamage(t *testing.T) {
	good, err := codecCases()[1].AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"empty":            nil,
		"truncated":        good[:len(good)-3],
		"core as bytes":    {0x0a, 1, 'a', 0x3a, 1, 'x'},        // field 7 with wire type 2
		"id as varint":     {0x08, 1},                           // field 1 with wire type 0
		"bad time":         {0x0a, 1, 'a', 0x1a, 2, 0xff, 0xff}, // schedule that time cannot read
		"length past end":  {0x0a, 9, 'a'},                      // id longer than the value
		"broken JSON":      []byte(`{"id":"a",`),
		"bad field number": {0x00},
	}
	for name, b := range bad {
		if tk, err := DecodeTask(b); err == nil {
			t.Errorf("%s: decoded as %+v, want an error", name, tk)
		}
	}
	// An unknown field (from a newer writer) is skipped.
	extra := append(slices.Clone(good), 0xa0, 0x06, 42) // field 100, varint 42
	if tk, err := DecodeTask(extra); err != nil || tk.ID != "full" {
		t.Errorf("value with an unknown field: %+v, %v", tk, err)
	}
}
