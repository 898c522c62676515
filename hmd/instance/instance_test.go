package instance

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/hafw/hafw/hmd/appmon"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "instance.db"), Options{Retain: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestUpdateLogsAndUndoRestores(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	if _, err := db.Promote(2); err != nil {
		t.Fatal(err)
	}
	db.Update(ctx, func(tx *Txn) error { return tx.Put([]byte("a"), []byte("1")) })
	before, _ := db.Digest()
	seq, err := db.Update(ctx, func(tx *Txn) error {
		return errors.Join(tx.Put([]byte("a"), []byte("2")), tx.Put([]byte("b"), []byte("new")),
			tx.PutFile("cfg/x.json", []byte("{}")))
	})
	if err != nil || seq != 2 {
		t.Fatalf("update: seq %d, %v", seq, err)
	}
	// A delete of an absent key changes nothing and logs nothing.
	if seq, err := db.Update(ctx, func(tx *Txn) error { return tx.Delete([]byte("absent")) }); err != nil || seq != 0 {
		t.Fatalf("no-op delete: seq %d, %v", seq, err)
	}
	last, first, epoch, hist := db.Position()
	if last != 2 || first != 1 || epoch != 2 || len(hist) != 1 || hist[0].Seq != 1 {
		t.Fatalf("position %d %d %d %v", last, first, epoch, hist)
	}
	undone, err := db.Undo(1)
	if err != nil || len(undone) != 1 || undone[0].Seq != 2 {
		t.Fatalf("undo: %v %v", undone, err)
	}
	if after, _ := db.Digest(); after != before {
		t.Fatal("undo did not restore the data exactly")
	}
	if v, _ := db.Get([]byte("a")); string(v) != "1" {
		t.Fatalf("a = %q after undo", v)
	}
	if _, err := db.GetFile("cfg/x.json"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("file after undo: %v", err)
	}
}

func TestFailedTransactionWritesNothing(t *testing.T) {
	db := openTest(t)
	_, err := db.Update(context.Background(), func(tx *Txn) error {
		tx.Put([]byte("a"), []byte("1"))
		return errors.New("service changed its mind")
	})
	if err == nil {
		t.Fatal("error lost")
	}
	if last, _, _, _ := db.Position(); last != 0 {
		t.Fatal("failed transaction logged")
	}
	if _, err := db.Get([]byte("a")); !errors.Is(err, ErrNotFound) {
		t.Fatal("failed transaction wrote data")
	}
}

func TestRetentionCompactsHistory(t *testing.T) {
	db := openTest(t)
	for i := range 25 {
		db.Update(context.Background(), func(tx *Txn) error { return tx.Put([]byte("k"), []byte{byte(i)}) })
	}
	last, first, _, _ := db.Position()
	if last != 25 || first != 16 {
		t.Fatalf("last %d first %d, want 25 and 16 (retain 10)", last, first)
	}
	if _, err := db.Frames(3, 10); err == nil {
		t.Fatal("compacted entries served")
	}
	if fr, err := db.Frames(16, 100); err != nil || len(fr) != 10 {
		t.Fatalf("frames: %d %v", len(fr), err)
	}
}

func TestPromoteRefusesOlderEpoch(t *testing.T) {
	db := openTest(t)
	if _, err := db.Promote(4); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Promote(3); err == nil {
		t.Fatal("older epoch accepted")
	}
}

// A file whose bytes changed on disk behind the database's back is
// refused, not served.
func TestFileChecksumDetectsCorruption(t *testing.T) {
	db := openTest(t)
	db.Update(context.Background(), func(tx *Txn) error { return tx.PutFile("maps/a.svg", []byte("<svg/>")) })
	if got, err := db.GetFile("maps/a.svg"); err != nil || string(got) != "<svg/>" {
		t.Fatalf("GetFile: %q %v", got, err)
	}
	db.mu.RLock()
	err := db.db.Update(func(tx *bolt.Tx) error {
		rec := append([]byte{}, tx.Bucket(bucketFiles).Get([]byte("maps/a.svg"))...)
		rec[len(rec)-1] ^= 1
		return tx.Bucket(bucketFiles).Put([]byte("maps/a.svg"), rec)
	})
	db.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetFile("maps/a.svg"); !errors.Is(err, ErrChecksum) {
		t.Fatalf("corrupt file: %v, want ErrChecksum", err)
	}
	if err := (&Txn{}).PutFile("../etc/passwd", nil); err == nil {
		t.Fatal("file name outside the area accepted")
	}
}

func TestAPIOverUnixSocket(t *testing.T) {
	db := openTest(t)
	sock := filepath.Join(t.TempDir(), "i.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, sock, Handler(db, slog.New(slog.NewTextHandler(io.Discard, nil)))) }()
	t.Cleanup(func() { cancel(); <-done })
	c := NewClient(sock)
	var seq uint64
	var err error
	for range 100 {
		seq, err = c.Txn(ctx, TxnOp{Op: "put", Key: "elem/1", Value: []byte("one")}, TxnOp{Op: "put", Key: "elem/2", Value: []byte("two")})
		if err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || seq != 1 {
		t.Fatalf("txn: %d %v", seq, err)
	}
	if v, err := c.Get(ctx, "elem/2"); err != nil || string(v) != "two" {
		t.Fatalf("get: %q %v", v, err)
	}
	if items, err := c.Scan(ctx, "elem/", 0); err != nil || len(items) != 2 {
		t.Fatalf("scan: %v %v", items, err)
	}
	if _, err := c.Get(ctx, "nope"); !IsNotFound(err) {
		t.Fatalf("missing key: %v", err)
	}
	var ae *APIError
	if _, err := c.Txn(ctx, TxnOp{Op: "put", Key: "ok", Value: []byte("x")}, TxnOp{Op: "frobnicate", Key: "k"}); !errors.As(err, &ae) || ae.Code != http.StatusBadRequest || !strings.Contains(ae.Message, "frobnicate") {
		t.Fatalf("bad op: %v", err)
	}
	if _, err := c.Get(ctx, "ok"); !IsNotFound(err) {
		t.Fatal("a refused transaction wrote its first op")
	}
	st, err := c.Status(ctx)
	if want, _ := db.Digest(); err != nil || st.LastSeq != 1 || st.Digest != want {
		t.Fatalf("status %+v %v", st, err)
	}
	// Root hmd shares the socket with the application group only; an
	// unprivileged one keeps it to itself.
	wantMode, wantGID := os.FileMode(0o600), uint32(os.Getegid())
	if os.Geteuid() == 0 {
		wantMode, wantGID = 0o660, appmon.AppGID
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != wantMode || fi.Sys().(*syscall.Stat_t).Gid != wantGID {
		t.Fatalf("socket mode %v group %d, want %v group %d (%v)", fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Gid, wantMode, wantGID, err)
	}
}
