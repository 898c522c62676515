package replicate

import (
	"testing"
	"time"
)

func TestLagWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	var w lagWindow
	if b, age := w.read(t0); b != 0 || age != 0 {
		t.Fatalf("empty: %d bytes, %v", b, age)
	}
	for i := uint64(1); i <= 5; i++ {
		w.add(i, t0.Add(time.Duration(i)*time.Second), 100)
	}
	if b, age := w.read(t0.Add(10 * time.Second)); b != 500 || age != 9*time.Second {
		t.Errorf("five unacknowledged: %d bytes, %v; want 500, 9s", b, age)
	}
	w.ack(2)
	if b, age := w.read(t0.Add(10 * time.Second)); b != 300 || age != 7*time.Second {
		t.Errorf("after ack 2: %d bytes, %v; want 300, 7s", b, age)
	}
	w.abandon(5)
	if b, _ := w.read(t0.Add(10 * time.Second)); b != 200 {
		t.Errorf("after abandoning 5: %d bytes; want 200", b)
	}
	w.ack(100)
	if b, age := w.read(t0.Add(10 * time.Second)); b != 0 || age != 0 {
		t.Errorf("all acknowledged: %d bytes, %v", b, age)
	}
}

// TestLagWindowBounded: a standby far behind costs a bounded window whose
// byte count stays exact once the standby catches up.
func TestLagWindowBounded(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	var w lagWindow
	n := uint64(maxLagMarks + 1000)
	for i := uint64(1); i <= n; i++ {
		w.add(i, t0, 10)
	}
	if len(w.marks) != maxLagMarks {
		t.Fatalf("%d marks kept, want at most %d", len(w.marks), maxLagMarks)
	}
	if b, _ := w.read(t0); b != n*10 {
		t.Errorf("%d bytes, want %d", b, n*10)
	}
	w.ack(n - 1)
	if b, _ := w.read(t0); b != 1001*10 {
		// The newest mark absorbed entries maxLagMarks…n (1001 of them): it is only
		// forgotten whole.
		t.Errorf("%d bytes after ack n-1, want the merged mark's %d", b, 1001*10)
	}
	w.ack(n)
	if b, _ := w.read(t0); b != 0 {
		t.Errorf("%d bytes after the last ack", b)
	}
}
