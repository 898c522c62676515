package heartbeat

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hafw/hafw/hmd/ha"
)

func testKey(t testing.TB, pair string) []byte {
	t.Helper()
	k, err := DeriveKey([]byte("pairing secret"), pair)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testBoot is the run of the sample messages' sender.
const testBoot = 0xb007

func sample(seq uint64) Message {
	return Message{Flags: FlagHoldsVIP, State: ha.FailoverActive, Sender: "10.210.0.2", Pair: "pair-1",
		Seq: seq, SentAt: 1_700_000_000_123_456_789, Echo: 0, Epoch: 7, Boot: testBoot, Challenge: 0xc4a1}
}

// live is sample(seq) answering v's current challenge.
func live(v *Verifier, seq uint64) Message {
	m := sample(seq)
	m.Answer, _ = v.Tokens("pair-1", "10.210.0.2")
	return m
}

func newTestVerifier(t testing.TB) *Verifier {
	t.Helper()
	v := NewVerifier()
	if err := v.AddPeer("pair-1", "10.210.0.2", testKey(t, "pair-1")); err != nil {
		t.Fatal(err)
	}
	return v
}

// joined is a Verifier that has adopted testBoot's run (the first live
// message of a run renews the challenge).
func joined(t testing.TB) *Verifier {
	t.Helper()
	v := newTestVerifier(t)
	if _, err := v.Open(seal(t, live(v, 1), testKey(t, "pair-1"))); err != nil {
		t.Fatal(err)
	}
	return v
}

func seal(t testing.TB, m Message, key []byte) []byte {
	t.Helper()
	b, err := Seal(m, key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	v := joined(t)
	for i, st := range append(ha.States(), "") {
		m := live(v, uint64(i+2))
		m.State = st
		m.Echo = int64(i) * 1000
		m.Wire, m.Firmware = Version, "1.1.0-rc2"
		if i%2 == 1 {
			m.Flags |= FlagDegraded
			// What a peer still on the old firmware writes and reads.
			m.Wire, m.Firmware = MinVersion, ""
		}
		got, err := v.Open(seal(t, m, testKey(t, "pair-1")))
		if err != nil {
			t.Fatalf("%s: %v", st, err)
		}
		if got != m {
			t.Fatalf("got %+v, want %+v", got, m)
		}
	}
}

func TestKeysDifferPerPairAndSecret(t *testing.T) {
	a, b := testKey(t, "pair-1"), testKey(t, "pair-2")
	c, _ := DeriveKey([]byte("other secret"), "pair-1")
	if bytes.Equal(a, b) || bytes.Equal(a, c) || len(a) != 32 {
		t.Fatal("derived keys must differ per pair and per secret")
	}
	if _, err := DeriveKey(nil, "pair-1"); err == nil {
		t.Fatal("empty secret accepted")
	}
}

func TestRejects(t *testing.T) {
	key := testKey(t, "pair-1")
	v := joined(t)
	good := seal(t, live(v, 100), key)
	otherKey, _ := DeriveKey([]byte("wrong password"), "pair-1")
	stranger := sample(5)
	stranger.Sender = "10.210.0.99"
	badVersion := bytes.Clone(good)
	badVersion[2] = 9
	flipped := bytes.Clone(good)
	flipped[len(flipped)-macLen-30] ^= 1 // inside the epoch field
	zeroBoot := live(v, 102)
	zeroBoot.Boot = 0
	zeroBootRaw, err := Seal(live(v, 102), key)
	if err != nil {
		t.Fatal(err)
	}
	// Boot zeroed after sealing: the format check comes before the MAC.
	clear(zeroBootRaw[len(zeroBootRaw)-macLen-24 : len(zeroBootRaw)-macLen-16])
	stale := live(v, 103)
	stale.Answer = 0x5ca1e // a challenge this node never drew
	badTag := bytes.Clone(good)
	badTag[len(badTag)-1] ^= 0x80
	tests := []struct {
		name string
		msg  []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"header only", good[:5], ErrTruncated},
		{"cut inside the sender ID", good[:8], ErrTruncated},
		{"cut before the MAC", good[:len(good)-macLen], ErrTruncated},
		{"one byte short", good[:len(good)-1], ErrTruncated},
		{"trailing byte", append(bytes.Clone(good), 0), ErrMalformed},
		{"bad magic", append([]byte("XX"), good[2:]...), ErrMalformed},
		{"version", badVersion, ErrVersion},
		{"unknown peer", seal(t, stranger, key), ErrUnknownPeer},
		{"zero boot", zeroBootRaw, ErrMalformed},
		{"wrong key", seal(t, live(v, 101), otherKey), ErrForged},
		{"old challenge", seal(t, stale, key), ErrReplayed},
		{"field flipped", flipped, ErrForged},
		{"tag flipped", badTag, ErrForged},
	}
	if _, err := Seal(zeroBoot, key); err == nil {
		t.Error("sealed a message with a zero boot")
	}
	for _, tc := range tests {
		if _, err := v.Open(tc.msg); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	// The genuine message is still accepted once: the rejects did not
	// advance the replay window.
	if _, err := v.Open(good); err != nil {
		t.Fatalf("genuine message after rejects: %v", err)
	}
	if _, err := v.Open(good); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay: %v", err)
	}
	want := map[string]uint64{"truncated": 5, "malformed": 3, "version": 1, "unknown_peer": 1, "forged": 3, "replayed": 2}
	got := v.Rejects()
	for k, n := range want {
		if got[k] != n {
			t.Errorf("rejects[%s] = %d, want %d (all: %v)", k, got[k], n, got)
		}
	}
}

func TestReplayWindow(t *testing.T) {
	key := testKey(t, "pair-1")
	v := joined(t)
	open := func(seq uint64) error {
		_, err := v.Open(seal(t, live(v, seq), key))
		return err
	}
	for _, c := range []struct {
		seq uint64
		ok  bool
	}{
		{0, false},    // zero is never valid
		{1000, true},  // first
		{1000, false}, // replay
		{990, true},   // late but inside the window (other path)
		{990, false},  // replayed late message
		{1001, true},  // next
		{1001 - windowSize + 1, true},
		{5000, true}, // jump ahead clears the window
		{4999, true},
		{4999, false},
	} {
		err := open(c.seq)
		if (err == nil) != c.ok {
			t.Fatalf("seq %d: err = %v, want ok=%v", c.seq, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrReplayed) {
			t.Fatalf("seq %d: err = %v, want ErrReplayed", c.seq, err)
		}
	}
}

// Packets captured before this node restarted answer a challenge it no
// longer has; packets of the peer's earlier run answer one renewed when
// its new run was adopted.
func TestReplayAcrossRestarts(t *testing.T) {
	key := testKey(t, "pair-1")
	v := joined(t)
	old := seal(t, live(v, 500), key)
	if _, err := v.Open(old); err != nil {
		t.Fatal(err)
	}
	restarted := joined(t)
	if _, err := restarted.Open(old); !errors.Is(err, ErrReplayed) {
		t.Fatalf("packet from before this node's restart: %v", err)
	}
	// The peer restarts: a new run, numbered from 1 again.
	next := live(v, 1)
	next.Boot = testBoot + 1
	if _, err := v.Open(seal(t, next, key)); err != nil {
		t.Fatalf("the peer's new run: %v", err)
	}
	before := live(v, 501) // its old run, answering what was current then
	before.Answer = sample(0).Answer
	for _, b := range [][]byte{old, seal(t, before, key)} {
		if _, err := v.Open(b); err == nil {
			t.Fatal("a packet of the peer's earlier run was accepted")
		}
	}
	next.Seq, next.Answer = 2, 0
	next.Answer, _ = v.Tokens("pair-1", "10.210.0.2")
	if _, err := v.Open(seal(t, next, key)); err != nil {
		t.Fatalf("the new run's next packet: %v", err)
	}
}

// A live message far behind the window (a replay, or the real peer after
// a key holder pushed the window to the top) draws a new challenge: the
// peer that answers it is heard again, the window starting afresh.
func TestTooOldRenewsTheChallenge(t *testing.T) {
	key := testKey(t, "pair-1")
	v := joined(t)
	if _, err := v.Open(seal(t, live(v, ^uint64(0)), key)); err != nil {
		t.Fatal(err)
	}
	c0, _ := v.Tokens("pair-1", "10.210.0.2")
	m, err := v.Open(seal(t, live(v, 7), key))
	if !errors.Is(err, ErrReplayed) || !errors.Is(err, ErrUnproven) || m.Challenge != sample(0).Challenge {
		t.Fatalf("too old: %+v %v", m, err)
	}
	if c1, _ := v.Tokens("pair-1", "10.210.0.2"); c1 == c0 {
		t.Fatal("challenge not renewed")
	}
	if _, err := v.Open(seal(t, live(v, 8), key)); err != nil {
		t.Fatalf("the peer answering the new challenge: %v", err)
	}
}

func TestSealRejectsBadInput(t *testing.T) {
	key := testKey(t, "pair-1")
	for name, m := range map[string]Message{
		"empty sender": {Pair: "p", Seq: 1},
		"long pair":    {Sender: "s", Pair: string(make([]byte, MaxIDLen+1)), Seq: 1},
		"bad state":    {Sender: "s", Pair: "p", State: "BOGUS", Seq: 1},
		"bad flags":    {Sender: "s", Pair: "p", Flags: 0x80, Seq: 1},
	} {
		if _, err := Seal(m, key); err == nil {
			t.Errorf("%s: sealed", name)
		}
	}
}

// FuzzOpen: whatever arrives, Open must not panic, must classify every
// reject, and may accept only what re-seals to exactly the same bytes.
func FuzzOpen(f *testing.F) {
	key := testKey(f, "pair-1")
	f.Add(seal(f, sample(1), key))
	f.Add(seal(f, Message{Flags: FlagReply | FlagGraceful, State: ha.GracefulShutdown, Sender: "10.210.0.2", Pair: "pair-1", Seq: 2, SentAt: 5, Echo: 4, Boot: 1, Challenge: 2, Answer: 3}, key))
	f.Add([]byte("HB\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v := newTestVerifier(t)
		m, err := v.Open(b)
		if errors.Is(err, ErrUnproven) {
			// Authentic, returned to be answered: it must re-seal too.
			err = nil
		}
		if err != nil {
			if Reason(err) == "other" {
				t.Fatalf("unclassified reject: %v", err)
			}
			return
		}
		again, err := Seal(m, key)
		if err != nil {
			t.Fatalf("accepted message does not re-seal: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted message is not canonical:\n%x\n%x", b, again)
		}
		if _, err := v.Open(b); err == nil {
			t.Fatalf("second open accepted")
		}
	})
}

func BenchmarkSealOpen(b *testing.B) {
	key := testKey(b, "pair-1")
	v := joined(b)
	m := live(v, 1)
	for i := 0; b.Loop(); i++ {
		m.Seq = uint64(i + 2)
		msg, err := Seal(m, key)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.Open(msg); err != nil {
			b.Fatal(err)
		}
	}
}
