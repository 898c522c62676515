package heartbeat

import (
	"crypto/rand"
	"encoding/binary"
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

// peerState is what a Verifier knows of one peer.
//
// Liveness rests on a challenge instead of remembered sequence numbers:
// this node draws a random nonce per peer, sends it in every message, and
// counts a peer message only if it answers the current nonce. A packet
// captured before this node started cannot (the nonce did not exist), so
// nothing needs saving across restarts, and sequence numbers start at 1
// in every run, whatever the clock says. The nonce is drawn again when
// the peer's run changes (so packets of its earlier run, which answer the
// old nonce, are never live again) and when a live message is too old for
// the window — a replay, or the real peer after a forged jump of the
// window: either way, the peer learns the new nonce within a round trip
// (the monitor answers unproven messages) and nothing stays locked out.
type peerState struct {
	key []byte
	// challenge is this node's nonce for the peer; previous is the one
	// before (messages still in flight answer it: unproven, not replays).
	challenge, previous uint64
	// boot is the peer's run the window belongs to (0: none yet) and
	// answer the peer's nonce for this node, echoed in what we send.
	boot, answer uint64
	win          window
}

// renew draws a new challenge and forgets the window of the old one.
func (p *peerState) renew() {
	p.previous, p.challenge = p.challenge, nonce()
	p.win = window{}
}

// nonce is a random non-zero 64-bit number.
func nonce() uint64 {
	var b [8]byte
	for {
		rand.Read(b[:])
		if n := binary.BigEndian.Uint64(b[:]); n != 0 {
			return n
		}
	}
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

// AddPeer accepts heartbeats from sender for pair, authenticated with key
// and answering this node's challenge (Tokens).
func (v *Verifier) AddPeer(pair, sender string, key []byte) error {
	if err := checkID("pair", pair); err != nil {
		return fmt.Errorf("add heartbeat peer: %w", err)
	}
	if err := checkID("sender", sender); err != nil {
		return fmt.Errorf("add heartbeat peer: %w", err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.peers[peerKey{pair, sender}] = &peerState{key: key, challenge: nonce()}
	return nil
}

// Tokens are what a message to sender of pair carries: this node's
// current challenge and its answer to the peer's (0 while unknown).
func (v *Verifier) Tokens(pair, sender string) (challenge, answer uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	p, ok := v.peers[peerKey{pair, sender}]
	if !ok {
		return 0, 0
	}
	return p.challenge, p.answer
}

// Open decodes, authenticates and replay-checks b. On error the message is
// counted under Reason(err) and must be ignored; with ErrUnproven (and
// only then) the authentic message is returned, to be answered.
func (v *Verifier) Open(b []byte) (Message, error) {
	m, _, err := v.verify(b)
	return m, err
}

// verify is Open that also tells whether the message is the newest heard
// of the peer's run (an older one may arrive late on another path).
func (v *Verifier) verify(b []byte) (Message, bool, error) {
	m, newest, err := v.open(b)
	if err != nil && Reason(err) != "unproven" {
		v.mu.Lock()
		v.rejects[Reason(err)]++
		v.mu.Unlock()
	}
	return m, newest, err
}

func (v *Verifier) open(b []byte) (Message, bool, error) {
	m, body, tag, err := parse(b)
	if err != nil {
		return Message{}, false, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	p, ok := v.peers[peerKey{m.Pair, m.Sender}]
	if !ok {
		return Message{}, false, fmt.Errorf("%w: %q in pair %q", ErrUnknownPeer, m.Sender, m.Pair)
	}
	if !authentic(body, tag, p.key) {
		return Message{}, false, fmt.Errorf("%w: from %q", ErrForged, m.Sender)
	}
	switch {
	case m.Answer == p.challenge:
	case m.Answer == 0 || m.Answer == p.previous:
		return m, false, fmt.Errorf("%w: from %q", ErrUnproven, m.Sender)
	default:
		return Message{}, false, fmt.Errorf("%w: sequence %d from %q answers an old challenge", ErrReplayed, m.Seq, m.Sender)
	}
	if m.Boot != p.boot {
		// A new run of the peer, proven live by the answer. Its earlier
		// runs' packets answer the challenge renewed here: never again.
		p.boot, p.answer = m.Boot, m.Challenge
		p.renew()
		return m, true, nil
	}
	if !p.win.check(m.Seq) {
		if behind := p.win.top - m.Seq; m.Seq != 0 && behind >= windowSize {
			p.renew()
			return m, false, fmt.Errorf("%w: %w: sequence %d from %q is %d behind the newest (a new challenge was drawn)",
				ErrReplayed, ErrUnproven, m.Seq, m.Sender, behind)
		}
		return Message{}, false, fmt.Errorf("%w: sequence %d from %q (newest %d)", ErrReplayed, m.Seq, m.Sender, p.win.top)
	}
	newest := m.Seq > p.win.top
	p.win.record(m.Seq)
	if newest {
		p.answer = m.Challenge
	}
	return m, newest, nil
}

// Rejects returns a copy of the reject counters by reason.
func (v *Verifier) Rejects() map[string]uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.rejects)
}
