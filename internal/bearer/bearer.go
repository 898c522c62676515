// Package bearer guards a read-only HTTP endpoint (Prometheus metrics)
// with a random token kept on disk, readable only by root: a scraper is
// configured with the token once, and never with an operator's password.
package bearer

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/hafw/hafw/internal/atomicfile"
)

// minLen is the shortest token accepted from the file; a shorter (or
// damaged) one is replaced.
const minLen = 32

// LoadOrCreate reads the token file, creating it (0600) with a random
// 256-bit token when it is missing or holds no usable token.
func LoadOrCreate(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		if t := strings.TrimSpace(string(data)); len(t) >= minLen {
			return t, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read metrics token: %w", err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make metrics token: %w", err)
	}
	t := hex.EncodeToString(b)
	if err := atomicfile.Write(path, []byte(t+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save metrics token: %w", err)
	}
	return t, nil
}

// Guard serves next only to a request that presents token as
// "Authorization: Bearer …" (compared in constant time) or that also
// admits (nil: nobody else). Others get 401 with hint, which says where
// the token is found.
func Guard(token string, also func(*http.Request) bool, hint string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed(r, token, also) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hafw metrics"`)
			http.Error(w, hint, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func allowed(r *http.Request, token string, also func(*http.Request) bool) bool {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(t)), []byte(token)) == 1
	}
	return also != nil && also(r)
}
