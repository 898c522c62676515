package replicate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A full copy is a pipeline on both sides, so that reading the database
// file and hashing overlap with encryption and the network on the active
// side, and decryption with writing and hashing on the standby: done one
// after the other in one goroutine, each side waited on its own disk or
// CPU work while the link stood idle, and the copy ran at about 0.7× the
// speed of rsync over the same link.

// snapChunk is the data size of one snapshot frame.
const snapChunk = 1 << 20

// snapBuffers is how many frame buffers the two goroutines of a side
// share: one being filled, one being sent (or written), one ready in
// between so that neither waits on the other's jitter.
const snapBuffers = 3

// snapFrameHead is the room before a chunk's data in its frame.
const snapFrameHead = frameHeaderLen + snapChunkHeaderLen

// stage is the second goroutine of a two-goroutine pipeline: it runs do
// on the items put to it, in order, and hands each item back for reuse.
// After do's first error it only hands items back, so that the first
// goroutine never blocks, and put reports the error.
type stage[T any] struct {
	do     func(T) error
	work   chan T
	free   chan T
	failed chan struct{} // closed at do's first error
	done   chan struct{}
	err    error // do's first error; read after failed or done
}

// newStage starts the goroutine; spare are the items the first goroutine
// gets back from put before any of its own return.
func newStage[T any](spare []T, do func(T) error) *stage[T] {
	s := &stage[T]{do: do, work: make(chan T, len(spare)+1), free: make(chan T, len(spare)+1),
		failed: make(chan struct{}), done: make(chan struct{})}
	for _, v := range spare {
		s.free <- v
	}
	go s.run()
	return s
}

func (s *stage[T]) run() {
	defer close(s.done)
	for v := range s.work {
		if s.err == nil {
			if s.err = s.do(v); s.err != nil {
				close(s.failed)
			}
		}
		s.free <- v
	}
}

// put hands v over and returns an item to reuse, or the stage's error.
func (s *stage[T]) put(v T) (T, error) {
	s.work <- v
	select {
	case <-s.failed:
		var zero T
		return zero, s.err
	case v := <-s.free:
		return v, nil
	}
}

// close waits until every item put is done and returns the first error.
func (s *stage[T]) close() error {
	close(s.work)
	<-s.done
	return s.err
}

// snapStream is the io.Writer (and io.ReaderFrom, so that bbolt's copy
// reads straight into the frame) a snapshot is written to. It hashes every
// byte, skips what the standby already holds, builds MsgSnapChunk frames
// in place and has a second goroutine send them.
type snapStream struct {
	id   uint64
	skip uint64 // bytes still to skip (the standby's partial copy)
	pos  uint64 // snapshot bytes taken so far, skipped or not
	hash hash.Hash
	cur  []byte // frame being filled: snapFrameHead room, then data
	send *stage[[]byte]
}

func newSnapFrame() []byte {
	return make([]byte, snapFrameHead, snapFrameHead+snapChunk+frameTrailerLen)
}

func newSnapStream(s *sender, id, skip, size uint64, h hash.Hash) *snapStream {
	spare := make([][]byte, snapBuffers-1)
	for i := range spare {
		spare[i] = newSnapFrame()
	}
	send := func(fr []byte) error {
		if err := s.write(fr); err != nil {
			return err
		}
		payload := fr[frameHeaderLen : len(fr)-frameTrailerLen]
		end := binary.BigEndian.Uint64(payload[8:]) + uint64(len(payload)-snapChunkHeaderLen)
		pct := int(end * 100 / max(size, 1))
		s.a.update(func(st *Status) { st.Percent = min(pct, 99) })
		return nil
	}
	return &snapStream{id: id, skip: skip, hash: h, cur: newSnapFrame(), send: newStage(spare, send)}
}

// Write takes what bbolt writes rather than lets us read (its two meta
// pages).
func (st *snapStream) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), snapFrameHead+snapChunk-len(st.cur))
		st.cur = append(st.cur, p[:k]...)
		p = p[k:]
		if err := st.took(k); err != nil {
			return n - len(p), err
		}
	}
	return n, nil
}

// ReadFrom reads the database file straight into the frame being filled.
func (st *snapStream) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		n, err := r.Read(st.cur[len(st.cur) : snapFrameHead+snapChunk])
		st.cur = st.cur[:len(st.cur)+n]
		total += int64(n)
		if n > 0 {
			if err := st.took(n); err != nil {
				return total, err
			}
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// took accounts for the n bytes just appended to cur.
func (st *snapStream) took(n int) error {
	data := st.cur[len(st.cur)-n:]
	st.hash.Write(data)
	st.pos += uint64(n)
	if st.skip > 0 {
		// Skipping happens only at the start, so cur holds nothing else.
		k := min(uint64(n), st.skip)
		st.skip -= k
		st.cur = append(st.cur[:snapFrameHead], data[k:]...)
	}
	if len(st.cur) == snapFrameHead+snapChunk {
		return st.flush()
	}
	return nil
}

// flush seals the frame being filled, if it holds data, and hands it to
// the sending goroutine.
func (st *snapStream) flush() error {
	n := len(st.cur) - snapFrameHead
	if n == 0 {
		return nil
	}
	putSnapChunkHeader(st.cur[frameHeaderLen:], st.id, st.pos-uint64(n))
	next, err := st.send.put(sealFrame(st.cur, 0, MsgSnapChunk))
	if err != nil {
		// Keep a frame so that a caller writing on is refused cleanly.
		st.cur = newSnapFrame()
		return err
	}
	st.cur = next[:snapFrameHead]
	return nil
}

// snapPiece is a received chunk's data inside the frame buffer it arrived
// in, and its offset in the snapshot.
type snapPiece struct {
	buf, data []byte
	off       int64
}

// writebackStep is how much the standby writes through the page cache
// before it starts the writeback of it.
const writebackStep = 8 << 20

// directAlign is the alignment O_DIRECT wants of memory, file offsets and
// lengths (the largest logical block size in use).
const directAlign = 4096

// snapFile has a second goroutine write the received chunks of a full copy
// to the file and the digest. Chunks go to the disk directly (O_DIRECT)
// where the file system allows it: through the page cache, the kernel's
// copying and, once memory is full, reclaiming of pages cost more CPU than
// everything else in the copy together, and the copy is not read back
// before it is installed. What cannot go directly (a file system without
// O_DIRECT, a resumed copy at an unaligned offset) is written through the
// page cache with its writeback started as it goes (sync_file_range), so
// that the fsync at the end has little left to wait for.
type snapFile struct {
	direct *os.File // nil when the file system refuses O_DIRECT
	write  *stage[snapPiece]
}

// newSnapFile starts the writing goroutine for f (opened at path),
// receiving at offset at, and gives r frame buffers whose chunk data is
// aligned for O_DIRECT.
func newSnapFile(path string, f *os.File, at int64, h hash.Hash, r *Reader) *snapFile {
	w := &snapFile{}
	if d, err := os.OpenFile(path, os.O_WRONLY|unix.O_DIRECT, 0); err == nil {
		w.direct = d
	}
	started := at
	write := func(p snapPiece) error {
		h.Write(p.data)
		if w.direct != nil && directOK(p.data, p.off) {
			if _, err := w.direct.WriteAt(p.data, p.off); err == nil {
				return nil
			}
			// Say, a device block larger than directAlign: the page
			// cache from here on (a real write error shows there too).
			w.direct.Close()
			w.direct = nil
		}
		if _, err := f.WriteAt(p.data, p.off); err != nil {
			return fmt.Errorf("write snapshot: %w", err)
		}
		if end := p.off + int64(len(p.data)); end-started >= writebackStep {
			// Only a hint to start writing back: the fsync at the end
			// is what makes the copy durable, so a failure here
			// changes nothing.
			_ = unix.SyncFileRange(int(f.Fd()), started, end-started, unix.SYNC_FILE_RANGE_WRITE)
			started = end
		}
		return nil
	}
	spare := make([]snapPiece, snapBuffers-1)
	for i := range spare {
		spare[i].buf = alignedFrame()
	}
	r.buf = alignedFrame()
	w.write = newStage(spare, write)
	return w
}

// alignedFrame returns a frame buffer whose chunk data starts on a
// directAlign boundary (the garbage collector does not move heap objects).
func alignedFrame() []byte {
	n := snapFrameHead + snapChunk + frameTrailerLen
	b := make([]byte, n+directAlign)
	skip := (directAlign - int(uintptr(unsafe.Pointer(&b[snapFrameHead]))%directAlign)) % directAlign
	return b[skip : skip+n]
}

// directOK says whether data can be written at off with O_DIRECT.
func directOK(data []byte, off int64) bool {
	return len(data) > 0 && off%directAlign == 0 && len(data)%directAlign == 0 &&
		uintptr(unsafe.Pointer(&data[0]))%directAlign == 0
}

// take hands the chunk r just read (data aliasing r's buffer), which goes
// at off, to the writing goroutine and gives r another buffer to read the
// next frame into.
func (w *snapFile) take(r *Reader, data []byte, off uint64) error {
	next, err := w.write.put(snapPiece{buf: r.buf, data: data, off: int64(off)})
	if err != nil {
		return err
	}
	r.buf = next.buf
	return nil
}

// close waits until every chunk taken is written.
func (w *snapFile) close() error {
	err := w.write.close()
	if w.direct != nil {
		err = errors.Join(err, w.direct.Close())
	}
	return err
}
