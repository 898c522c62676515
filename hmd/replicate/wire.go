package replicate

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// The replication channel is a stream of frames:
//
//	type u8 | length u32 (big endian) | payload | crc32c u32
//
// The CRC-32C covers type, length and payload. Log entries are stored in
// the instance database as the very frame that is shipped, so an entry
// carries its checksum from the commit that created it to every replica:
// a bit flipped on disk or on the wire is refused where it is read.

// MsgType is a frame's type.
type MsgType uint8

// Frame types.
const (
	MsgEntry        MsgType = 1 // one committed transaction (Entry)
	MsgAck          MsgType = 2 // standby: durable up to Seq
	MsgNack         MsgType = 3 // standby: refused, send again from Seq
	MsgHello        MsgType = 4 // active → standby: who I am (Hello)
	MsgStandby      MsgType = 5 // standby → active: what I hold (StandbyHello)
	MsgPlan         MsgType = 6 // active → standby: how we sync (Plan)
	MsgSnapChunk    MsgType = 7 // a piece of the database snapshot
	MsgSnapEnd      MsgType = 8 // snapshot complete (SnapEnd)
	MsgRefuse       MsgType = 9 // either side: a reason, then the connection closes
	maxMsgType              = MsgRefuse
	frameHeaderLen          = 5
	frameTrailerLen         = 4
)

// MaxPayload bounds a frame so that a corrupt length cannot make the reader
// allocate without limit.
const MaxPayload = 8 << 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Sentinel errors of the decoder; callers branch on them.
var (
	// ErrChecksum: the frame arrived whole but its CRC does not match.
	// The stream is still in step, so the reader may re-request.
	ErrChecksum = errors.New("replication frame checksum mismatch")
	// ErrFrame: the frame cannot be delimited (unknown type, absurd
	// length); the stream must be dropped.
	ErrFrame = errors.New("malformed replication frame")
)

// Frame is one decoded frame; Payload aliases the reader's buffer until the
// next read.
type Frame struct {
	Type    MsgType
	Payload []byte
}

// AppendFrame appends the framed payload to dst.
func AppendFrame(dst []byte, t MsgType, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeaderLen)...)
	return sealFrame(append(dst, payload...), start, t)
}

// sealFrame completes the frame that starts at b[start]: frameHeaderLen
// bytes of room there, then the payload up to the end of b. It fills in
// type and length and appends the CRC, so that a payload built in place
// (a snapshot chunk read straight from the database file) is never copied.
func sealFrame(b []byte, start int, t MsgType) []byte {
	b[start] = byte(t)
	binary.BigEndian.PutUint32(b[start+1:], uint32(len(b)-start-frameHeaderLen))
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], crcTable))
}

// ParseFrame decodes one whole frame held in b (as stored in the log).
func ParseFrame(b []byte) (Frame, error) {
	if len(b) < frameHeaderLen+frameTrailerLen {
		return Frame{}, fmt.Errorf("%w: %d bytes", ErrFrame, len(b))
	}
	t, n := MsgType(b[0]), binary.BigEndian.Uint32(b[1:5])
	if t == 0 || t > maxMsgType || n > MaxPayload || int(n) != len(b)-frameHeaderLen-frameTrailerLen {
		return Frame{}, fmt.Errorf("%w: type %d length %d in %d bytes", ErrFrame, t, n, len(b))
	}
	body := b[:len(b)-frameTrailerLen]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(b[len(body):]) {
		return Frame{Type: t}, ErrChecksum
	}
	return Frame{Type: t, Payload: b[frameHeaderLen:len(body)]}, nil
}

// Reader reads frames from a stream.
type Reader struct {
	r   *bufio.Reader
	buf []byte
}

// NewReader wraps r.
func NewReader(r io.Reader) *Reader { return &Reader{r: bufio.NewReaderSize(r, 256<<10)} }

// Buffered reports whether more input is already buffered (the standby
// uses it to commit a burst of entries in one transaction).
func (r *Reader) Buffered() bool { return r.r.Buffered() > 0 }

// Next reads the next frame. ErrChecksum leaves the stream in step (the
// returned Frame has its Type); any other error means the stream is lost.
// The returned Raw bytes (whole frame) alias an internal buffer.
func (r *Reader) Next() (f Frame, raw []byte, err error) {
	var hdr [frameHeaderLen]byte
	if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
		return Frame{}, nil, err
	}
	t, n := MsgType(hdr[0]), binary.BigEndian.Uint32(hdr[1:])
	if t == 0 || t > maxMsgType || n > MaxPayload {
		return Frame{}, nil, fmt.Errorf("%w: type %d length %d", ErrFrame, t, n)
	}
	total := frameHeaderLen + int(n) + frameTrailerLen
	if cap(r.buf) < total {
		r.buf = make([]byte, total)
	}
	r.buf = r.buf[:total]
	copy(r.buf, hdr[:])
	if _, err := io.ReadFull(r.r, r.buf[frameHeaderLen:]); err != nil {
		return Frame{}, nil, fmt.Errorf("read replication frame: %w", noEOF(err))
	}
	f, err = ParseFrame(r.buf)
	return f, r.buf, err
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// OpKind says what an Op changes.
type OpKind uint8

// Kinds of operation.
const (
	OpPut        OpKind = 1 // key/value store: set Key to Value
	OpDelete     OpKind = 2 // key/value store: remove Key
	OpPutFile    OpKind = 3 // file area: set file Key to Value
	OpDeleteFile OpKind = 4 // file area: remove file Key
)

// Op is one change of a transaction. Old is the value before the change
// (HadOld false when there was none): it is what lets a node that returns
// after a failover undo the entries its successor never got, so undoing is
// exact and needs no second copy of the database.
type Op struct {
	Kind   OpKind
	Key    []byte
	Value  []byte
	HadOld bool
	Old    []byte
}

// Entry is one committed transaction: the unit of the log and of shipping.
type Entry struct {
	Seq   uint64
	Epoch uint64
	Ops   []Op
}

// maxOps bounds the op count a decoder accepts before it allocates.
const maxOps = 1 << 20

// Encode returns the entry's payload (not framed).
func (e Entry) Encode() []byte {
	n := 20
	for _, op := range e.Ops {
		n += 14 + len(op.Key) + len(op.Value) + len(op.Old)
	}
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = binary.BigEndian.AppendUint64(b, e.Epoch)
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Ops)))
	for _, op := range e.Ops {
		b = append(b, byte(op.Kind))
		b = appendBytes(b, op.Key)
		b = appendBytes(b, op.Value)
		if op.HadOld {
			b = append(b, 1)
			b = appendBytes(b, op.Old)
		} else {
			b = append(b, 0)
		}
	}
	return b
}

// Frame returns the entry as a frame (the form stored in the log).
func (e Entry) Frame() []byte { return AppendFrame(nil, MsgEntry, e.Encode()) }

// DecodeEntry decodes an entry payload; the byte slices it returns are
// copies, safe to keep.
func DecodeEntry(b []byte) (Entry, error) {
	d := decoder{b: b}
	e := Entry{Seq: d.u64(), Epoch: d.u64()}
	n := d.u32()
	if d.err == nil && (n > maxOps || int(n) > len(d.b)) {
		return Entry{}, fmt.Errorf("decode entry: %d ops in %d bytes", n, len(d.b))
	}
	for i := uint32(0); i < n && d.err == nil; i++ {
		op := Op{Kind: OpKind(d.u8()), Key: d.bytes(), Value: d.bytes()}
		switch d.u8() {
		case 0:
		case 1:
			op.HadOld, op.Old = true, d.bytes()
		default:
			d.fail("bad old-value flag")
		}
		if d.err == nil && (op.Kind < OpPut || op.Kind > OpDeleteFile) {
			d.fail(fmt.Sprintf("unknown op kind %d", op.Kind))
		}
		if d.err == nil && len(op.Key) == 0 {
			d.fail("empty key")
		}
		e.Ops = append(e.Ops, op)
	}
	if err := d.done(); err != nil {
		return Entry{}, fmt.Errorf("decode entry: %w", err)
	}
	if e.Seq == 0 {
		return Entry{}, errors.New("decode entry: sequence number 0")
	}
	return e, nil
}

// EpochStart says that entries from Seq on were written in Epoch. A node's
// history is the list of these, in order; it is how two nodes find the
// last entry they share after a failover (see ForkPoint).
type EpochStart struct {
	Epoch uint64
	Seq   uint64
}

// Protocol versions. The two sides of a pair run different firmware
// during a rolling upgrade: the active says which versions it speaks
// (Hello.Protocols), the standby picks the newest both speak or refuses
// with both ranges (StandbyHello.Protocol). Version 1 is this wire format.
const (
	ProtocolMin = 1
	ProtocolMax = 1
)

// Protocols is a range of protocol versions one side speaks.
type Protocols struct{ Min, Max uint8 }

// Speaks is the range this build speaks.
var Speaks = Protocols{Min: ProtocolMin, Max: ProtocolMax}

func (p Protocols) String() string {
	if p.Min == p.Max {
		return fmt.Sprintf("version %d", p.Min)
	}
	return fmt.Sprintf("versions %d–%d", p.Min, p.Max)
}

// Negotiate is the newest version both ranges hold (ok false when none):
// the standby's choice.
func Negotiate(active, standby Protocols) (v uint8, ok bool) {
	v = min(active.Max, standby.Max)
	return v, v >= max(active.Min, standby.Min) && v > 0
}

// The handshake's fields after the first version's are optional on
// decode (absent: version 1), and bytes after the fields a build knows
// are ignored: a newer peer's longer Hello still decodes, and the
// negotiation, not a decode error, says whether the two can talk.

// Hello opens a connection: the active side says who it is.
type Hello struct {
	Epoch   uint64
	LastSeq uint64
	// FirstSeq is the oldest entry still in the active's log; older
	// history is gone and needs a full copy.
	FirstSeq uint64
	History  []EpochStart
	// Protocols are the protocol versions the active speaks.
	Protocols Protocols
}

// StandbyHello is the standby's answer: what it holds, and a partial
// snapshot it can resume.
type StandbyHello struct {
	LastSeq    uint64
	History    []EpochStart
	SnapID     uint64
	SnapOffset uint64
	// LastDigest is the SHA-256 of the standby's stored frame of LastSeq
	// (zero when it holds none). Entries are shipped before the active
	// commits them, so the standby's last one may be an entry the active
	// never committed and whose sequence number it has reused since: equal
	// epoch histories do not show that, a different digest does.
	LastDigest [32]byte
	// Protocol is the version the standby chose (Negotiate).
	Protocol uint8
}

// PlanKind says how the active side brings the standby up to date.
type PlanKind uint8

// Kinds of plan.
const (
	// PlanCatchUp: ship entries from Fork+1; the standby first undoes
	// (and quarantines) its entries after Fork.
	PlanCatchUp PlanKind = 1
	// PlanSnapshot: a full copy of the database, resumed at Offset of
	// snapshot ID when the standby holds a part of it.
	PlanSnapshot PlanKind = 2
)

// Plan is the active side's decision for this connection.
type Plan struct {
	Kind   PlanKind
	Fork   uint64
	SnapID uint64
	Size   uint64
	Offset uint64
}

// SnapChunk is a piece of the snapshot at Offset.
type SnapChunk struct {
	ID     uint64
	Offset uint64
	Data   []byte
}

// SnapEnd ends a snapshot: its size, the sequence number it contains up to,
// and the SHA-256 of the whole snapshot.
type SnapEnd struct {
	ID     uint64
	Size   uint64
	Seq    uint64
	Digest [32]byte
}

// EncodeHello encodes h.
func EncodeHello(h Hello) []byte {
	b := binary.BigEndian.AppendUint64(nil, h.Epoch)
	b = binary.BigEndian.AppendUint64(b, h.LastSeq)
	b = binary.BigEndian.AppendUint64(b, h.FirstSeq)
	b = appendHistory(b, h.History)
	return append(b, h.Protocols.Min, h.Protocols.Max)
}

// DecodeHello decodes a Hello payload.
func DecodeHello(b []byte) (Hello, error) {
	d := decoder{b: b}
	h := Hello{Epoch: d.u64(), LastSeq: d.u64(), FirstSeq: d.u64()}
	h.History = d.history()
	h.Protocols = Protocols{Min: 1, Max: 1}
	if d.err == nil && len(d.b) >= 2 {
		h.Protocols = Protocols{Min: d.u8(), Max: d.u8()}
	}
	if d.err != nil {
		return Hello{}, fmt.Errorf("decode hello: %w", d.err)
	}
	if h.Protocols.Min == 0 || h.Protocols.Min > h.Protocols.Max {
		return Hello{}, fmt.Errorf("decode hello: protocol range %d–%d", h.Protocols.Min, h.Protocols.Max)
	}
	return h, nil
}

// EncodeHistory is an epoch history as the instance database stores it:
// the first format of a Hello that holds only the history. It never
// changes, so that a firmware rolled back reads what a newer one wrote.
func EncodeHistory(h []EpochStart) []byte {
	return appendHistory(make([]byte, 24), h)
}

// DecodeHistory reads what EncodeHistory wrote.
func DecodeHistory(b []byte) ([]EpochStart, error) {
	d := decoder{b: b}
	d.take(24)
	h := d.history()
	if err := d.done(); err != nil {
		return nil, fmt.Errorf("decode epoch history: %w", err)
	}
	return h, nil
}

// EncodeStandbyHello encodes h.
func EncodeStandbyHello(h StandbyHello) []byte {
	b := binary.BigEndian.AppendUint64(nil, h.LastSeq)
	b = appendHistory(b, h.History)
	b = binary.BigEndian.AppendUint64(b, h.SnapID)
	b = binary.BigEndian.AppendUint64(b, h.SnapOffset)
	b = append(b, h.LastDigest[:]...)
	return append(b, h.Protocol)
}

// DecodeStandbyHello decodes a StandbyHello payload.
func DecodeStandbyHello(b []byte) (StandbyHello, error) {
	d := decoder{b: b}
	h := StandbyHello{LastSeq: d.u64()}
	h.History = d.history()
	h.SnapID, h.SnapOffset = d.u64(), d.u64()
	copy(h.LastDigest[:], d.take(32))
	h.Protocol = 1
	if d.err == nil && len(d.b) >= 1 {
		h.Protocol = d.u8()
	}
	if d.err != nil {
		return StandbyHello{}, fmt.Errorf("decode standby hello: %w", d.err)
	}
	return h, nil
}

// EncodePlan encodes p.
func EncodePlan(p Plan) []byte {
	b := []byte{byte(p.Kind)}
	for _, v := range []uint64{p.Fork, p.SnapID, p.Size, p.Offset} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b
}

// DecodePlan decodes a Plan payload.
func DecodePlan(b []byte) (Plan, error) {
	d := decoder{b: b}
	p := Plan{Kind: PlanKind(d.u8()), Fork: d.u64(), SnapID: d.u64(), Size: d.u64(), Offset: d.u64()}
	if err := d.done(); err != nil {
		return Plan{}, fmt.Errorf("decode plan: %w", err)
	}
	if p.Kind != PlanCatchUp && p.Kind != PlanSnapshot {
		return Plan{}, fmt.Errorf("decode plan: unknown kind %d", p.Kind)
	}
	if p.Kind == PlanSnapshot && p.Offset > p.Size {
		return Plan{}, fmt.Errorf("decode plan: offset %d beyond size %d", p.Offset, p.Size)
	}
	return p, nil
}

// snapChunkHeaderLen is the part of a SnapChunk payload before its data.
const snapChunkHeaderLen = 16

// EncodeSnapChunk encodes c.
func EncodeSnapChunk(c SnapChunk) []byte {
	b := make([]byte, snapChunkHeaderLen, snapChunkHeaderLen+len(c.Data))
	putSnapChunkHeader(b, c.ID, c.Offset)
	return append(b, c.Data...)
}

// putSnapChunkHeader writes the ID and offset of a SnapChunk payload.
func putSnapChunkHeader(b []byte, id, offset uint64) {
	binary.BigEndian.PutUint64(b, id)
	binary.BigEndian.PutUint64(b[8:], offset)
}

// DecodeSnapChunk decodes a chunk; Data aliases b.
func DecodeSnapChunk(b []byte) (SnapChunk, error) {
	d := decoder{b: b}
	c := SnapChunk{ID: d.u64(), Offset: d.u64()}
	if d.err != nil {
		return SnapChunk{}, fmt.Errorf("decode snapshot chunk: %w", d.err)
	}
	c.Data = d.b
	return c, nil
}

// EncodeSnapEnd encodes e.
func EncodeSnapEnd(e SnapEnd) []byte {
	b := binary.BigEndian.AppendUint64(nil, e.ID)
	b = binary.BigEndian.AppendUint64(b, e.Size)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	return append(b, e.Digest[:]...)
}

// DecodeSnapEnd decodes a SnapEnd payload.
func DecodeSnapEnd(b []byte) (SnapEnd, error) {
	d := decoder{b: b}
	e := SnapEnd{ID: d.u64(), Size: d.u64(), Seq: d.u64()}
	copy(e.Digest[:], d.take(32))
	if err := d.done(); err != nil {
		return SnapEnd{}, fmt.Errorf("decode snapshot end: %w", err)
	}
	return e, nil
}

// EncodeSeq encodes the payload of Ack and Nack.
func EncodeSeq(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// DecodeSeq decodes the payload of Ack and Nack.
func DecodeSeq(b []byte) (uint64, error) {
	d := decoder{b: b}
	s := d.u64()
	if err := d.done(); err != nil {
		return 0, fmt.Errorf("decode sequence number: %w", err)
	}
	return s, nil
}

func appendBytes(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

func appendHistory(b []byte, h []EpochStart) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(h)))
	for _, e := range h {
		b = binary.BigEndian.AppendUint64(b, e.Epoch)
		b = binary.BigEndian.AppendUint64(b, e.Seq)
	}
	return b
}

// decoder reads big-endian fields and remembers the first error, so a
// decode function reads straight through and checks once.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = errors.New(msg)
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.fail(fmt.Sprintf("truncated: need %d bytes, have %d", n, len(d.b)))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() uint8 {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) bytes() []byte {
	n := d.u32()
	if d.err == nil && int64(n) > int64(len(d.b)) {
		d.fail(fmt.Sprintf("truncated: field of %d bytes, have %d", n, len(d.b)))
	}
	v := d.take(int(n))
	if len(v) == 0 {
		return nil
	}
	return append([]byte{}, v...)
}

func (d *decoder) history() []EpochStart {
	n := d.u32()
	if d.err == nil && int64(n)*16 > int64(len(d.b)) {
		d.fail(fmt.Sprintf("history of %d epochs in %d bytes", n, len(d.b)))
	}
	var h []EpochStart
	for i := uint32(0); i < n && d.err == nil; i++ {
		h = append(h, EpochStart{Epoch: d.u64(), Seq: d.u64()})
	}
	if d.err == nil && !validHistory(h) {
		d.fail("history not in increasing order")
	}
	return h
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)))
	}
	return d.err
}
