package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"

	"github.com/hafw/hafw/hmd/instance"
)

// Store is what the tracker needs of the instance API (instance.Client).
type Store interface {
	Txn(ctx context.Context, ops ...instance.TxnOp) (uint64, error)
	Get(ctx context.Context, key string) ([]byte, error)
	Scan(ctx context.Context, prefix string, limit int) ([]instance.KV, error)
}

// Element is a tracked device on a floor map.
type Element struct {
	ID    string  `json:"id"`
	Floor string  `json:"floor"`
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
	// Note is free text (the writer test puts its write number here).
	Note string `json:"note,omitempty"`
}

const keyPrefix = "element/"

var idRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// newTracker is the HTTP API:
//
//	PUT    /v1/elements/{id}  store an element; 200 {"seq":N} once durable
//	GET    /v1/elements/{id}
//	GET    /v1/elements       all elements
//	DELETE /v1/elements/{id}
//
// A 200 on PUT or DELETE means the instance database acknowledged the
// commit — in maximum availability, that the standby holds it too.
func newTracker(st Store, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, code int, err error) {
		if code >= 500 {
			log.Error("tracker", "err", err)
		}
		reply(w, code, map[string]string{"error": err.Error()})
	}
	storeErr := func(w http.ResponseWriter, err error) {
		var ae *instance.APIError
		if errors.As(err, &ae) && ae.Code == http.StatusServiceUnavailable {
			fail(w, http.StatusServiceUnavailable, err)
			return
		}
		fail(w, http.StatusInternalServerError, err)
	}
	mux.HandleFunc("PUT /v1/elements/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !idRE.MatchString(id) {
			fail(w, http.StatusBadRequest, fmt.Errorf("element id %q: want 1-128 of A-Z a-z 0-9 . _ : -", id))
			return
		}
		var e Element
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			fail(w, http.StatusBadRequest, fmt.Errorf("decode element: %w", err))
			return
		}
		e.ID = id
		val, err := json.Marshal(e)
		if err != nil {
			fail(w, http.StatusInternalServerError, err)
			return
		}
		seq, err := st.Txn(r.Context(), instance.TxnOp{Op: "put", Key: keyPrefix + id, Value: val})
		if err != nil {
			storeErr(w, err)
			return
		}
		reply(w, http.StatusOK, map[string]uint64{"seq": seq})
	})
	mux.HandleFunc("DELETE /v1/elements/{id}", func(w http.ResponseWriter, r *http.Request) {
		seq, err := st.Txn(r.Context(), instance.TxnOp{Op: "delete", Key: keyPrefix + r.PathValue("id")})
		if err != nil {
			storeErr(w, err)
			return
		}
		reply(w, http.StatusOK, map[string]uint64{"seq": seq})
	})
	mux.HandleFunc("GET /v1/elements/{id}", func(w http.ResponseWriter, r *http.Request) {
		v, err := st.Get(r.Context(), keyPrefix+r.PathValue("id"))
		if instance.IsNotFound(err) {
			fail(w, http.StatusNotFound, fmt.Errorf("no element %q", r.PathValue("id")))
			return
		}
		if err != nil {
			storeErr(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(v)
	})
	mux.HandleFunc("GET /v1/elements", func(w http.ResponseWriter, r *http.Request) {
		items, err := st.Scan(r.Context(), keyPrefix, 0)
		if err != nil {
			storeErr(w, err)
			return
		}
		out := make([]json.RawMessage, 0, len(items))
		for _, it := range items {
			if strings.HasPrefix(string(it.Key), keyPrefix) {
				out = append(out, it.Value)
			}
		}
		reply(w, http.StatusOK, out)
	})
	return mux
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
