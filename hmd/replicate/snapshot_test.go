package replicate

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The full-copy pipelines of both sides, end to end over a pipe: the
// active's frames built in place (meta pages written, the rest read),
// skipping what the standby holds, and the standby's writer (O_DIRECT
// where aligned, the page cache where not). The copy on disk and both
// digests must equal the source.
func TestFullCopyPipelines(t *testing.T) {
	data := make([]byte, 3*snapChunk+5*4096)
	rand.Read(data)
	for _, tc := range []struct {
		name string
		skip int
	}{
		{"from the start", 0},
		{"resumed at a chunk", snapChunk},
		{"resumed unaligned", snapChunk + 777},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "copy")
			if err := os.WriteFile(path, data[:tc.skip], 0o600); err != nil {
				t.Fatal(err)
			}
			ca, cb := net.Pipe()
			defer ca.Close()
			defer cb.Close()
			a := &Active{opt: ActiveOptions{StallTimeout: 10 * time.Second}, ackedCh: make(chan struct{})}
			s := &sender{a: a, conn: ca, w: bufio.NewWriter(ca)}
			sent := sha256.New()
			st := newSnapStream(s, 7, uint64(tc.skip), uint64(len(data)), sent)
			errc := make(chan error, 1)
			go func() {
				_, err := st.Write(data[:2*4096]) // bbolt writes its meta pages
				if err == nil {
					_, err = st.ReadFrom(bytes.NewReader(data[2*4096:]))
				}
				if err == nil {
					err = st.flush()
				}
				if cerr := st.send.close(); err == nil {
					err = cerr
				}
				if err == nil {
					err = s.flush()
				}
				ca.Close()
				errc <- err
			}()

			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got := sha256.New()
			got.Write(data[:tc.skip])
			r := NewReader(cb)
			w := newSnapFile(path, f, int64(tc.skip), got, r)
			pos := uint64(tc.skip)
			for pos < uint64(len(data)) {
				fr, _, err := r.Next()
				if err != nil {
					t.Fatalf("frame at %d: %v", pos, err)
				}
				c, err := DecodeSnapChunk(fr.Payload)
				if err != nil || fr.Type != MsgSnapChunk || c.ID != 7 || c.Offset != pos {
					t.Fatalf("frame type %d id %d offset %d (%v), want a chunk at %d", fr.Type, c.ID, c.Offset, err, pos)
				}
				if err := w.take(r, c.Data, pos); err != nil {
					t.Fatal(err)
				}
				pos += uint64(len(c.Data))
			}
			if err := w.close(); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			want := sha256.Sum256(data)
			if !bytes.Equal(sent.Sum(nil), want[:]) || !bytes.Equal(got.Sum(nil), want[:]) {
				t.Fatal("digest of the sent or received copy differs from the source's")
			}
			onDisk, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(onDisk, data) {
				t.Fatalf("copy on disk differs (%d bytes, want %d)", len(onDisk), len(data))
			}
			if p := a.Status().Percent; p != 99 {
				t.Fatalf("progress %d%% at the end of the chunks, want 99", p)
			}
		})
	}
}
