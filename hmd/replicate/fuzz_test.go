package replicate

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the frame reader and every message
// decoder, as the standby and the active side read them from the network.
// Nothing may panic or allocate without bound, and whatever an entry
// decodes to must encode back to the same bytes.
func FuzzReader(f *testing.F) {
	f.Add(sampleEntry().Frame())
	f.Add(AppendFrame(nil, MsgHello, EncodeHello(Hello{Epoch: 3, LastSeq: 9, FirstSeq: 1, History: []EpochStart{{2, 1}, {3, 5}}, Protocols: Speaks})))
	f.Add(AppendFrame(nil, MsgStandby, EncodeStandbyHello(StandbyHello{LastSeq: 4, SnapID: 7, SnapOffset: 10, Protocol: 1})))
	f.Add(AppendFrame(nil, MsgPlan, EncodePlan(Plan{Kind: PlanSnapshot, SnapID: 7, Size: 100, Offset: 10})))
	f.Add(AppendFrame(nil, MsgSnapChunk, EncodeSnapChunk(SnapChunk{ID: 7, Offset: 10, Data: []byte("xyz")})))
	f.Add(AppendFrame(nil, MsgSnapEnd, EncodeSnapEnd(SnapEnd{ID: 7, Size: 100, Seq: 4})))
	f.Add(append(AppendFrame(nil, MsgAck, EncodeSeq(5)), AppendFrame(nil, MsgNack, EncodeSeq(6))...))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		for range 64 {
			fr, _, err := r.Next()
			if errors.Is(err, ErrChecksum) {
				continue
			}
			if err != nil {
				return
			}
			decodeAny(t, fr)
		}
	})
}

// FuzzDecodeEntry fuzzes the entry payload decoder directly (the frame
// CRC would otherwise stop almost every input before it).
func FuzzDecodeEntry(f *testing.F) {
	f.Add(sampleEntry().Encode())
	f.Add(Entry{Seq: 1, Ops: []Op{{Kind: OpDelete, Key: []byte("k")}}}.Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeAny(t, Frame{Type: MsgEntry, Payload: data})
	})
}

func decodeAny(t *testing.T, fr Frame) {
	switch fr.Type {
	case MsgEntry:
		e, err := DecodeEntry(fr.Payload)
		if err != nil {
			return
		}
		again, err := DecodeEntry(e.Encode())
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("entry does not round-trip: %+v / %+v (%v)", e, again, err)
		}
		if !bytes.Equal(e.Encode(), fr.Payload) {
			t.Fatalf("entry has two encodings")
		}
	case MsgHello:
		DecodeHello(fr.Payload)
	case MsgStandby:
		DecodeStandbyHello(fr.Payload)
	case MsgPlan:
		DecodePlan(fr.Payload)
	case MsgSnapChunk:
		DecodeSnapChunk(fr.Payload)
	case MsgSnapEnd:
		DecodeSnapEnd(fr.Payload)
	case MsgAck, MsgNack:
		DecodeSeq(fr.Payload)
	}
}
