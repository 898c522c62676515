package replicate

import "time"

// maxLagMarks bounds lagWindow: a standby that falls this many entries
// behind costs no more memory; the newest mark then absorbs later entries.
const maxLagMarks = 1 << 16

// lagWindow remembers, for the entries shipped and not yet acknowledged,
// when each was shipped and its size, so that the lag can be told in bytes
// and seconds as well as in entries. Once full, the newest mark absorbs
// later entries: bytes stay exact until that mark is acknowledged whole,
// and the age (from the oldest mark) stays exact.
type lagWindow struct {
	marks []lagMark // ascending seq
	bytes uint64    // the sum of the marks' sizes
}

type lagMark struct {
	seq  uint64
	at   time.Time
	size uint64
}

// add records entry seq of size bytes shipped at.
func (w *lagWindow) add(seq uint64, at time.Time, size int) {
	w.bytes += uint64(size)
	if n := len(w.marks); n >= maxLagMarks {
		w.marks[n-1].seq, w.marks[n-1].size = seq, w.marks[n-1].size+uint64(size)
		return
	}
	w.marks = append(w.marks, lagMark{seq: seq, at: at, size: uint64(size)})
}

// ack forgets the entries up to seq.
func (w *lagWindow) ack(seq uint64) {
	i := 0
	for i < len(w.marks) && w.marks[i].seq <= seq {
		w.bytes -= w.marks[i].size
		i++
	}
	if i > 0 {
		w.marks = append(w.marks[:0], w.marks[i:]...)
	}
}

// abandon forgets the entries from seq on (their commit failed here).
func (w *lagWindow) abandon(seq uint64) {
	for len(w.marks) > 0 && w.marks[len(w.marks)-1].seq >= seq {
		w.bytes -= w.marks[len(w.marks)-1].size
		w.marks = w.marks[:len(w.marks)-1]
	}
}

// read is the lag in bytes and the age of the oldest unacknowledged entry.
func (w *lagWindow) read(now time.Time) (uint64, time.Duration) {
	if len(w.marks) == 0 {
		return 0, 0
	}
	return w.bytes, max(0, now.Sub(w.marks[0].at))
}
