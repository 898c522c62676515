package heartbeat

import (
	"fmt"
	"maps"
	"sync"
)

// windowSize is how far behind the newest sequence number a message may
// arrive and still be accepted once (reordering between paths).
const windowSize = 64

// window is an anti-replay sliding window (RFC 4303 style): the highest
// sequence number seen and a bitmap of the windowSize numbers below it.
type window struct {
	top    uint64
	bitmap uint64 // bit i: top-i seen
}

// check reports whether seq is new; it does not record it.
func (w *window) check(seq uint64) bool {
	switch {
	case seq == 0:
		return false
	case seq > w.top:
		return true
	case w.top-seq >= windowSize:
		return false
	default:
		return w.bitmap&(1<<(w.top-seq)) == 0
	}
}

// record marks seq (already checked) as seen.
func (w *window) record(seq uint64) {
	if seq > w.top {
		shift := seq - w.top
		if shift >= windowSize {
			w.bitmap = 0
		} else {
			w.bitmap <<= shift
		}
		w.bitmap |= 1
		w.top = seq
		return
	}
	w.bitmap |= 1 << (w.top - seq)
}

type peerKey struct{ pair, sender string }

type peerState struct {
	key []byte
	win window
}

// Verifier authenticates heartbeats of the configured peers and rejects
// replays; it counts rejects by reason. Safe for concurrent use.
type Verifier struct {
	mu      sync.Mutex
	peers   map[peerKey]*peerState
	rejects map[string]uint64
}

// NewVerifier returns a Verifier with no peers.
func NewVerifier() *Verifier {
	return &Verifier{peers: map[peerKey]*peerState{}, rejects: map[string]uint64{}}
}

// AddPeer accepts heartbeats from sender for pair, authenticated with key,
// with sequence numbers above minSeq (0 for a peer never heard).
func (v *Verifier) AddPeer(pair, sender string, key []byte, minSeq uint64) error {
	if err := checkID("pair", pair); err != nil {
		return fmt.Errorf("add heartbeat peer: %w", err)
	}
	if err := checkID("sender", sender); err != nil {
		return fmt.Errorf("add heartbeat peer: %w", err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	// Everything at or below minSeq counts as seen.
	v.peers[peerKey{pair, sender}] = &peerState{key: key, win: window{top: minSeq, bitmap: ^uint64(0)}}
	return nil
}

// Open decodes, authenticates and replay-checks b. On error the message is
// counted under Reason(err) and must be ignored.
func (v *Verifier) Open(b []byte) (Message, error) {
	m, err := v.open(b)
	if err != nil {
		v.mu.Lock()
		v.rejects[Reason(err)]++
		v.mu.Unlock()
	}
	return m, err
}

func (v *Verifier) open(b []byte) (Message, error) {
	m, body, tag, err := parse(b)
	if err != nil {
		return Message{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	p, ok := v.peers[peerKey{m.Pair, m.Sender}]
	if !ok {
		return Message{}, fmt.Errorf("%w: %q in pair %q", ErrUnknownPeer, m.Sender, m.Pair)
	}
	if !authentic(body, tag, p.key) {
		return Message{}, fmt.Errorf("%w: from %q", ErrForged, m.Sender)
	}
	if !p.win.check(m.Seq) {
		return Message{}, fmt.Errorf("%w: sequence %d from %q (newest %d)", ErrReplayed, m.Seq, m.Sender, p.win.top)
	}
	p.win.record(m.Seq)
	return m, nil
}

// Rejects returns a copy of the reject counters by reason.
func (v *Verifier) Rejects() map[string]uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.rejects)
}
