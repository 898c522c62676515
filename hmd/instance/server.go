package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"

	"github.com/hafw/hafw/hmd/appmon"
	"github.com/hafw/hafw/hmd/replicate"
)

// DefaultSocket is where services find the instance API.
const DefaultSocket = "/run/hafw/instance.sock"

// SocketEnv names the environment variable that tells an application
// process where the instance API is.
const SocketEnv = "HAFW_INSTANCE_SOCKET"

// TxnOp is one change in a transaction request.
type TxnOp struct {
	// Op is "put", "delete", "put-file" or "delete-file".
	Op    string `json:"op"`
	Key   string `json:"key"`
	Value []byte `json:"value,omitempty"`
}

// TxnRequest is POST /v1/txn: all ops commit together or not at all.
type TxnRequest struct {
	Ops []TxnOp `json:"ops"`
}

// TxnResponse answers a committed transaction.
type TxnResponse struct {
	Seq uint64 `json:"seq"`
}

// StatusResponse is GET /v1/status.
type StatusResponse struct {
	LastSeq uint64 `json:"last_seq"`
	Epoch   uint64 `json:"epoch"`
	Digest  string `json:"digest"`
}

// errorResponse is every error's body.
type errorResponse struct {
	Error string `json:"error"`
}

// maxRequest bounds a transaction request.
const maxRequest = 16 << 20

// Handler is the instance API over db:
//
//	POST /v1/txn             {"ops":[{"op":"put","key":"k","value":"<base64>"}]} -> {"seq":N}
//	GET  /v1/kv/{key}        the value (404 when absent)
//	GET  /v1/kv?prefix=P&limit=N   {"items":[{"key":...,"value":...}]}
//	GET  /v1/files/{name...} a file of the file area (checked)
//	GET  /v1/status          {"last_seq":N,"epoch":E,"digest":"..."}
//
// A commit answers 200 only when it is as durable as the protection mode
// promises; 503 when maximum protection refused it.
func Handler(db *DB, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, code int, err error) {
		if code >= 500 {
			log.Error("instance API", "err", err)
		}
		writeJSON(w, code, errorResponse{Error: err.Error()})
	}
	mux.HandleFunc("POST /v1/txn", func(w http.ResponseWriter, r *http.Request) {
		var req TxnRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, maxRequest))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			fail(w, http.StatusBadRequest, fmt.Errorf("decode transaction: %w", err))
			return
		}
		if len(req.Ops) == 0 {
			fail(w, http.StatusBadRequest, errors.New("transaction has no ops"))
			return
		}
		seq, err := db.Update(r.Context(), func(tx *Txn) error {
			for i, op := range req.Ops {
				if err := applyRequestOp(tx, op); err != nil {
					return &badOp{fmt.Errorf("op %d: %w", i, err)}
				}
			}
			return nil
		})
		var bad *badOp
		switch {
		case errors.As(err, &bad):
			fail(w, http.StatusBadRequest, bad.err)
		case errors.Is(err, replicate.ErrNotProtected):
			fail(w, http.StatusServiceUnavailable, err)
		case err != nil:
			fail(w, http.StatusInternalServerError, err)
		default:
			writeJSON(w, http.StatusOK, TxnResponse{Seq: seq})
		}
	})
	mux.HandleFunc("GET /v1/kv/{key...}", func(w http.ResponseWriter, r *http.Request) {
		v, err := db.Get([]byte(r.PathValue("key")))
		switch {
		case errors.Is(err, ErrNotFound):
			fail(w, http.StatusNotFound, fmt.Errorf("key %q not found", r.PathValue("key")))
		case err != nil:
			fail(w, http.StatusInternalServerError, err)
		default:
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(v)
		}
	})
	mux.HandleFunc("GET /v1/kv", func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		items, err := db.Scan([]byte(r.URL.Query().Get("prefix")), max(limit, 0))
		if err != nil {
			fail(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, struct {
			Items []KV `json:"items"`
		}{Items: items})
	})
	mux.HandleFunc("GET /v1/files/{name...}", func(w http.ResponseWriter, r *http.Request) {
		data, err := db.GetFile(r.PathValue("name"))
		switch {
		case errors.Is(err, ErrNotFound):
			fail(w, http.StatusNotFound, err)
		case err != nil:
			fail(w, http.StatusInternalServerError, err)
		default:
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(data)
		}
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		last, _, epoch, _ := db.Position()
		d, err := db.Digest()
		if err != nil {
			fail(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, StatusResponse{LastSeq: last, Epoch: epoch, Digest: d})
	})
	return mux
}

type badOp struct{ err error }

func (b *badOp) Error() string { return b.err.Error() }

func applyRequestOp(tx *Txn, op TxnOp) error {
	switch op.Op {
	case "put":
		return tx.Put([]byte(op.Key), op.Value)
	case "delete":
		return tx.Delete([]byte(op.Key))
	case "put-file":
		return tx.PutFile(op.Key, op.Value)
	case "delete-file":
		return tx.DeleteFile(op.Key)
	}
	return fmt.Errorf("unknown op %q (want put, delete, put-file or delete-file)", op.Op)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// Serve serves the instance API on the unix socket path (replacing a stale
// socket file; see socketAccess for who may use it) until ctx ends.
func Serve(ctx context.Context, path string, h http.Handler) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale instance socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("listen on instance socket: %w", err)
	}
	if err := socketAccess(path); err != nil {
		ln.Close()
		return fmt.Errorf("instance socket permissions: %w", err)
	}
	srv := &http.Server{Handler: h}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("instance API: %w", err)
	}
	return nil
}

// socketAccess lets hmd and its applications, and nobody else, use the
// socket: root hmd gives it to the application group (appmon.AppGID,
// which every application keeps), an unprivileged hmd keeps it to itself
// (its applications run as it).
func socketAccess(path string) error {
	if os.Geteuid() != 0 {
		return os.Chmod(path, 0o600)
	}
	if err := os.Chown(path, 0, appmon.AppGID); err != nil {
		return err
	}
	return os.Chmod(path, 0o660)
}
