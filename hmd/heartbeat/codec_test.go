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

func sample(seq uint64) Message {
	return Message{Flags: FlagHoldsVIP, State: ha.FailoverActive, Sender: "10.210.0.2", Pair: "pair-1",
		Seq: seq, SentAt: 1_700_000_000_123_456_789, Echo: 0, Epoch: 7}
}

func newTestVerifier(t testing.TB) *Verifier {
	t.Helper()
	v := NewVerifier()
	if err := v.AddPeer("pair-1", "10.210.0.2", testKey(t, "pair-1"), 0); err != nil {
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
	v := newTestVerifier(t)
	for i, st := range append(ha.States(), "") {
		m := sample(uint64(i + 1))
		m.State = st
		m.Echo = int64(i) * 1000
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
	good := seal(t, sample(100), key)
	otherKey, _ := DeriveKey([]byte("wrong password"), "pair-1")
	stranger := sample(5)
	stranger.Sender = "10.210.0.99"
	badVersion := bytes.Clone(good)
	badVersion[2] = 9
	flipped := bytes.Clone(good)
	flipped[len(flipped)-40] ^= 1 // inside the epoch field
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
		{"wrong key", seal(t, sample(101), otherKey), ErrForged},
		{"field flipped", flipped, ErrForged},
		{"tag flipped", badTag, ErrForged},
	}
	v := newTestVerifier(t)
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
	want := map[string]uint64{"truncated": 5, "malformed": 2, "version": 1, "unknown_peer": 1, "forged": 3, "replayed": 1}
	got := v.Rejects()
	for k, n := range want {
		if got[k] != n {
			t.Errorf("rejects[%s] = %d, want %d (all: %v)", k, got[k], n, got)
		}
	}
}

func TestReplayWindow(t *testing.T) {
	key := testKey(t, "pair-1")
	v := newTestVerifier(t)
	open := func(seq uint64) error {
		_, err := v.Open(seal(t, sample(seq), key))
		return err
	}
	for _, c := range []struct {
		seq uint64
		ok  bool
	}{
		{0, false},                 // zero is never valid
		{1000, true},               // first
		{1000, false},              // replay
		{990, true},                // late but inside the window (other path)
		{990, false},               // replayed late message
		{1001, true},               // next
		{1001 - windowSize, false}, // too old to tell: rejected
		{1001 - windowSize + 1, true},
		{5000, true}, // jump ahead clears the window
		{4999, true},
		{1001, false},
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

func TestReplayAcrossRestart(t *testing.T) {
	key := testKey(t, "pair-1")
	old := seal(t, sample(500), key)
	v := NewVerifier() // a restarted node that saved LastSeq 500
	if err := v.AddPeer("pair-1", "10.210.0.2", key, 500); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Open(old); !errors.Is(err, ErrReplayed) {
		t.Fatalf("packet from before the restart: %v", err)
	}
	if _, err := v.Open(seal(t, sample(501), key)); err != nil {
		t.Fatalf("next packet: %v", err)
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
	f.Add(seal(f, Message{Flags: FlagReply | FlagGraceful, State: ha.GracefulShutdown, Sender: "10.210.0.2", Pair: "pair-1", Seq: 2, SentAt: 5, Echo: 4}, key))
	f.Add([]byte("HB\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v := newTestVerifier(t)
		m, err := v.Open(b)
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
		if _, err := v.Open(b); !errors.Is(err, ErrReplayed) {
			t.Fatalf("second open: %v", err)
		}
	})
}

func BenchmarkSealOpen(b *testing.B) {
	key := testKey(b, "pair-1")
	v := newTestVerifier(b)
	m := sample(1)
	for i := 0; b.Loop(); i++ {
		m.Seq = uint64(i + 1)
		msg, err := Seal(m, key)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.Open(msg); err != nil {
			b.Fatal(err)
		}
	}
}
