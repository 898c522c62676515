package replicate

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func sampleEntry() Entry {
	return Entry{Seq: 42, Epoch: 3, Ops: []Op{
		{Kind: OpPut, Key: []byte("elem/1"), Value: []byte(`{"x":1}`), HadOld: true, Old: []byte(`{"x":0}`)},
		{Kind: OpDelete, Key: []byte("elem/2"), HadOld: true, Old: []byte("gone")},
		{Kind: OpPutFile, Key: []byte("maps/floor1.svg"), Value: []byte("<svg/>")},
	}}
}

func TestEntryRoundTrip(t *testing.T) {
	e := sampleEntry()
	f, err := ParseFrame(e.Frame())
	if err != nil || f.Type != MsgEntry {
		t.Fatalf("ParseFrame = %v, %v", f.Type, err)
	}
	got, err := DecodeEntry(f.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, e)
	}
}

// Every single-bit flip anywhere in a stored entry is detected: either the
// frame cannot be delimited or its checksum fails.
func TestEveryBitFlipDetected(t *testing.T) {
	frame := sampleEntry().Frame()
	for i := range len(frame) * 8 {
		b := bytes.Clone(frame)
		b[i/8] ^= 1 << (i % 8)
		_, err := ParseFrame(b)
		if !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrFrame) {
			t.Fatalf("flip of bit %d not detected (err %v)", i, err)
		}
	}
}

func TestReaderKeepsStepAfterChecksumError(t *testing.T) {
	good := sampleEntry().Frame()
	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 0xff
	r := NewReader(bytes.NewReader(append(append(bad, good...), AppendFrame(nil, MsgAck, EncodeSeq(7))...)))
	if _, _, err := r.Next(); !errors.Is(err, ErrChecksum) {
		t.Fatalf("first frame: err %v, want ErrChecksum", err)
	}
	if f, _, err := r.Next(); err != nil || f.Type != MsgEntry {
		t.Fatalf("second frame: %v %v", f.Type, err)
	}
	f, _, err := r.Next()
	if err != nil || f.Type != MsgAck {
		t.Fatalf("third frame: %v %v", f.Type, err)
	}
	if seq, err := DecodeSeq(f.Payload); err != nil || seq != 7 {
		t.Fatalf("ack = %d, %v", seq, err)
	}
}

func TestReaderRefusesAbsurdLength(t *testing.T) {
	r := NewReader(bytes.NewReader([]byte{byte(MsgEntry), 0xff, 0xff, 0xff, 0xff}))
	if _, _, err := r.Next(); !errors.Is(err, ErrFrame) {
		t.Fatalf("err %v, want ErrFrame", err)
	}
}

func TestMessagesRoundTrip(t *testing.T) {
	hist := []EpochStart{{Epoch: 2, Seq: 1}, {Epoch: 5, Seq: 90}}
	h := Hello{Epoch: 5, LastSeq: 100, FirstSeq: 3, History: hist, Protocols: Protocols{Min: 1, Max: 3}}
	if got, err := DecodeHello(EncodeHello(h)); err != nil || !reflect.DeepEqual(got, h) {
		t.Errorf("hello: %+v %v", got, err)
	}
	sh := StandbyHello{LastSeq: 95, History: hist, SnapID: 9, SnapOffset: 4096, LastDigest: [32]byte{1, 2, 31: 3}, Protocol: 2}
	if got, err := DecodeStandbyHello(EncodeStandbyHello(sh)); err != nil || !reflect.DeepEqual(got, sh) {
		t.Errorf("standby hello: %+v %v", got, err)
	}
	p := Plan{Kind: PlanSnapshot, SnapID: 9, Size: 1 << 20, Offset: 4096}
	if got, err := DecodePlan(EncodePlan(p)); err != nil || got != p {
		t.Errorf("plan: %+v %v", got, err)
	}
	e := SnapEnd{ID: 9, Size: 1 << 20, Seq: 100, Digest: [32]byte{1, 2, 3}}
	if got, err := DecodeSnapEnd(EncodeSnapEnd(e)); err != nil || got != e {
		t.Errorf("snap end: %+v %v", got, err)
	}
	c := SnapChunk{ID: 9, Offset: 8, Data: []byte("abc")}
	if got, err := DecodeSnapChunk(EncodeSnapChunk(c)); err != nil || !reflect.DeepEqual(got, c) {
		t.Errorf("chunk: %+v %v", got, err)
	}
}

// The handshake stays decodable across firmware versions: a Hello or
// StandbyHello of the first format (no protocol fields) is version 1, a
// newer peer's longer one decodes, and a nonsense range is refused.
func TestHandshakeAcrossVersions(t *testing.T) {
	hist := []EpochStart{{Epoch: 2, Seq: 1}}
	full := EncodeHello(Hello{Epoch: 2, LastSeq: 7, FirstSeq: 1, History: hist, Protocols: Protocols{Min: 1, Max: 1}})
	first := full[:len(full)-2] // without the protocol range
	if h, err := DecodeHello(first); err != nil || h.Protocols != (Protocols{Min: 1, Max: 1}) || h.LastSeq != 7 {
		t.Errorf("first-format hello: %+v %v", h, err)
	}
	newer := append(EncodeHello(Hello{Epoch: 2, LastSeq: 7, FirstSeq: 1, History: hist, Protocols: Protocols{Min: 2, Max: 4}}), 0xde, 0xad)
	if h, err := DecodeHello(newer); err != nil || h.Protocols != (Protocols{Min: 2, Max: 4}) {
		t.Errorf("a newer, longer hello: %+v %v", h, err)
	}
	for _, bad := range []Protocols{{0, 0}, {0, 2}, {3, 2}} {
		if _, err := DecodeHello(EncodeHello(Hello{History: hist, Protocols: bad})); err == nil {
			t.Errorf("protocol range %v accepted", bad)
		}
	}
	// The instance database keeps its history in the first format, which
	// every firmware reads.
	if got := EncodeHistory(hist); !bytes.Equal(got, EncodeHello(Hello{History: hist, Protocols: Speaks})[:len(got)]) || len(got) != len(full)-2 {
		t.Errorf("stored history %x is not the first Hello format", got)
	}
	if got, err := DecodeHistory(EncodeHistory(hist)); err != nil || !reflect.DeepEqual(got, hist) {
		t.Errorf("history round trip: %v %v", got, err)
	}
	sh := EncodeStandbyHello(StandbyHello{LastSeq: 3, History: hist, Protocol: 1})
	if got, err := DecodeStandbyHello(sh[:len(sh)-1]); err != nil || got.Protocol != 1 {
		t.Errorf("first-format standby hello: %+v %v", got, err)
	}
	for _, c := range []struct {
		active, standby Protocols
		want            uint8
		ok              bool
	}{
		{Protocols{1, 1}, Protocols{1, 1}, 1, true},
		{Protocols{1, 3}, Protocols{1, 2}, 2, true},
		{Protocols{2, 3}, Protocols{1, 2}, 2, true},
		{Protocols{1, 1}, Protocols{2, 3}, 0, false},
		{Protocols{3, 4}, Protocols{1, 2}, 0, false},
	} {
		if v, ok := Negotiate(c.active, c.standby); ok != c.ok || (ok && v != c.want) {
			t.Errorf("Negotiate(%v, %v) = %d, %v; want %d, %v", c.active, c.standby, v, ok, c.want, c.ok)
		}
	}
}

func TestDecodeRefusesBadInput(t *testing.T) {
	cases := map[string]func() error{
		"entry seq 0": func() error {
			_, err := DecodeEntry(Entry{Seq: 0, Ops: []Op{{Kind: OpPut, Key: []byte("k")}}}.Encode())
			return err
		},
		"entry unknown op": func() error {
			_, err := DecodeEntry(Entry{Seq: 1, Ops: []Op{{Kind: 9, Key: []byte("k")}}}.Encode())
			return err
		},
		"entry empty key": func() error { _, err := DecodeEntry(Entry{Seq: 1, Ops: []Op{{Kind: OpPut}}}.Encode()); return err },
		"entry truncated": func() error { b := sampleEntry().Encode(); _, err := DecodeEntry(b[:len(b)-1]); return err },
		"entry trailing":  func() error { _, err := DecodeEntry(append(sampleEntry().Encode(), 0)); return err },
		"entry huge op count": func() error {
			_, err := DecodeEntry([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff})
			return err
		},
		"history out of order": func() error {
			_, err := DecodeHello(EncodeHello(Hello{History: []EpochStart{{Epoch: 5, Seq: 10}, {Epoch: 4, Seq: 20}}}))
			return err
		},
		"plan kind": func() error { _, err := DecodePlan(EncodePlan(Plan{Kind: 7})); return err },
		"plan offset beyond size": func() error {
			_, err := DecodePlan(EncodePlan(Plan{Kind: PlanSnapshot, Size: 10, Offset: 11}))
			return err
		},
		"seq short": func() error { _, err := DecodeSeq([]byte{1, 2}); return err },
	}
	for name, f := range cases {
		if f() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
