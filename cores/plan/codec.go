package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// A task is stored in etcd in protobuf wire format (hand-coded with
// protowire; no generated code). JSON was the first format: a failover of
// 100k tasks spent a fifth of its CPU encoding and decoding it — the
// handler decoding every task it reads, every core decoding every task
// event its claim loop watches — and the binary value is less than half
// the size (43 bytes instead of 119 for a pending one-word command).
// DecodeTask still reads JSON, so values written by an earlier version
// stay readable; any write replaces them with the binary form.
//
// Field numbers are part of the stored format: never reuse or renumber
// one. Unknown fields are skipped, so a newer writer's additions do not
// break an older reader.
const (
	fieldID protowire.Number = iota + 1
	fieldCommand
	fieldSchedule
	fieldRetries
	fieldStatus
	fieldFailure
	fieldCore
	fieldPartition
	fieldParent
	fieldChildren
	fieldCritical
	fieldClaimLease
	fieldStarted
	fieldFinished
	fieldOutput
)

// AppendBinary appends the stored form of t to b. Zero fields are left
// out, except the ID, which always comes first (so a stored value never
// starts with '{', which is how JSON values are told apart).
func (t Task) AppendBinary(b []byte) ([]byte, error) {
	b = appendString(b, fieldID, t.ID, true)
	for _, c := range t.Command {
		b = appendString(b, fieldCommand, c, true)
	}
	var err error
	if b, err = appendTime(b, fieldSchedule, t.Schedule); err != nil {
		return nil, fmt.Errorf("encoding task %s: %w", t.ID, err)
	}
	b = appendInt(b, fieldRetries, int64(t.Retries))
	b = appendString(b, fieldStatus, string(t.Status), false)
	b = appendString(b, fieldFailure, string(t.Failure), false)
	b = appendInt(b, fieldCore, int64(t.Core))
	b = appendString(b, fieldPartition, t.Partition, false)
	b = appendString(b, fieldParent, t.Parent, false)
	for _, c := range t.Children {
		b = appendString(b, fieldChildren, c, true)
	}
	if t.Critical {
		b = appendInt(b, fieldCritical, 1)
	}
	b = appendInt(b, fieldClaimLease, t.ClaimLease)
	if b, err = appendTime(b, fieldStarted, t.Started); err != nil {
		return nil, fmt.Errorf("encoding task %s: %w", t.ID, err)
	}
	if b, err = appendTime(b, fieldFinished, t.Finished); err != nil {
		return nil, fmt.Errorf("encoding task %s: %w", t.ID, err)
	}
	b = appendString(b, fieldOutput, t.Output, false)
	return b, nil
}

func appendString(b []byte, n protowire.Number, s string, always bool) []byte {
	if s == "" && !always {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendInt(b []byte, n protowire.Number, v int64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, protowire.EncodeZigZag(v))
}

// appendTime stores a time in time.Time's own binary form (seconds,
// nanoseconds and zone offset), so it round-trips exactly.
func appendTime(b []byte, n protowire.Number, t time.Time) ([]byte, error) {
	if t.IsZero() {
		return b, nil
	}
	v, err := t.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendBytes(b, v), nil
}

// DecodeTask reads a stored task value: the binary form, or JSON written
// by an earlier version.
func DecodeTask(b []byte) (Task, error) {
	var t Task
	switch {
	case len(b) == 0:
		return Task{}, errors.New("empty task value")
	case b[0] == '{':
		err := json.Unmarshal(b, &t)
		return t, err
	}
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return Task{}, fmt.Errorf("task value: %w", protowire.ParseError(l))
		}
		b = b[l:]
		l, err := decodeField(&t, n, typ, b)
		if err != nil {
			return Task{}, fmt.Errorf("task value, field %d: %w", n, err)
		}
		b = b[l:]
	}
	return t, nil
}

var errWireType = errors.New("wrong wire type")

// decodeField decodes one field's value from b into t and returns its
// length.
func decodeField(t *Task, n protowire.Number, typ protowire.Type, b []byte) (int, error) {
	if n < fieldID || n > fieldOutput {
		l := protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			return 0, protowire.ParseError(l)
		}
		return l, nil
	}
	switch n {
	case fieldRetries, fieldCore, fieldCritical, fieldClaimLease:
		if typ != protowire.VarintType {
			return 0, errWireType
		}
		u, l := protowire.ConsumeVarint(b)
		if l < 0 {
			return 0, protowire.ParseError(l)
		}
		switch v := protowire.DecodeZigZag(u); n {
		case fieldRetries:
			t.Retries = int(v)
		case fieldCore:
			t.Core = int(v)
		case fieldCritical:
			t.Critical = v != 0
		default:
			t.ClaimLease = v
		}
		return l, nil
	}
	if typ != protowire.BytesType {
		return 0, errWireType
	}
	v, l := protowire.ConsumeBytes(b)
	if l < 0 {
		return 0, protowire.ParseError(l)
	}
	var err error
	switch n {
	case fieldID:
		t.ID = string(v)
	case fieldCommand:
		t.Command = append(t.Command, string(v))
	case fieldStatus:
		t.Status = Status(v)
	case fieldFailure:
		t.Failure = FailureType(v)
	case fieldPartition:
		t.Partition = string(v)
	case fieldParent:
		t.Parent = string(v)
	case fieldChildren:
		t.Children = append(t.Children, string(v))
	case fieldOutput:
		t.Output = string(v)
	case fieldSchedule:
		err = t.Schedule.UnmarshalBinary(v)
	case fieldStarted:
		err = t.Started.UnmarshalBinary(v)
	case fieldFinished:
		err = t.Finished.UnmarshalBinary(v)
	}
	return l, err
}
