package supervise

import (
	"bytes"
	"sync"
)

// Ring keeps the last lines written to it, so that `msed status` and a
// post-mortem can show what a child said before it died without a disk.
type Ring struct {
	mu      sync.Mutex
	lines   []string
	next    int
	full    bool
	partial []byte
}

// NewRing keeps up to n lines.
func NewRing(n int) *Ring { return &Ring{lines: make([]string, max(n, 1))} }

// Write splits p into lines; an unterminated tail waits for its newline.
func (r *Ring) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	data := append(r.partial, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		r.add(string(data[:i]))
		data = data[i+1:]
	}
	r.partial = append([]byte(nil), data...)
	return len(p), nil
}

func (r *Ring) add(line string) {
	r.lines[r.next] = line
	r.next = (r.next + 1) % len(r.lines)
	if r.next == 0 {
		r.full = true
	}
}

// Lines returns the kept lines, oldest first.
func (r *Ring) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]string(nil), r.lines[:r.next]...)
	}
	out := append([]string(nil), r.lines[r.next:]...)
	return append(out, r.lines[:r.next]...)
}
