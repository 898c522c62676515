package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/hafw/hafw/upgrade"
)

// MaxBundle bounds an uploaded update bundle: both payload members at
// their largest, plus the manifest, signature and tar headers.
const MaxBundle = 2*upgrade.MaxMember + 1<<20

// An upload of MaxBundle over a slow management link takes minutes: the
// upgrade route lifts the server's short read and write deadlines to these.
const (
	upgradeReadTimeout  = 30 * time.Minute
	upgradeWriteTimeout = 40 * time.Minute
)

// UpgradeStatus is GET /v1/upgrade: the boot slots and a scheduled reboot.
type UpgradeStatus struct {
	Slots []upgrade.SlotReport `json:"slots"`
	// RebootAt is when the appliance reboots into the installed slot
	// (RFC 3339), "" when nothing is scheduled.
	RebootAt string `json:"reboot_at,omitempty"`
}

// UpgradeRequest is the query of POST /v1/upgrade, whose body is the
// bundle itself (application/octet-stream).
type UpgradeRequest struct {
	// AllowDowngrade installs a version not newer than the running one.
	AllowDowngrade bool
	// Reboot is when to boot the new slot: zero for "at the next reboot,
	// however caused", a time in the past for now.
	Reboot time.Time
}

// Query encodes r for the request URL.
func (r UpgradeRequest) Query() url.Values {
	q := url.Values{}
	if r.AllowDowngrade {
		q.Set("allow_downgrade", "true")
	}
	if !r.Reboot.IsZero() {
		q.Set("reboot_at", r.Reboot.UTC().Format(time.RFC3339))
	}
	return q
}

// ParseUpgradeRequest reads POST /v1/upgrade's query.
func ParseUpgradeRequest(q url.Values) (UpgradeRequest, error) {
	var r UpgradeRequest
	var bad []FieldError
	for k := range q {
		if k != "allow_downgrade" && k != "reboot_at" {
			bad = append(bad, FieldError{Field: k, Reason: "is not a known parameter"})
		}
	}
	if v := q.Get("allow_downgrade"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad = append(bad, FieldError{Field: "allow_downgrade", Reason: fmt.Sprintf("%q is not true or false", v)})
		}
		r.AllowDowngrade = b
	}
	if v := q.Get("reboot_at"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			bad = append(bad, FieldError{Field: "reboot_at", Reason: fmt.Sprintf("%q is not an RFC 3339 time", v)})
		}
		r.Reboot = t
	}
	if len(bad) > 0 {
		return UpgradeRequest{}, Invalid(bad...)
	}
	return r, nil
}

// UpgradeResult is the last line of a successful POST /v1/upgrade.
type UpgradeResult struct {
	upgrade.Installed
	Message  string `json:"message"`
	RebootAt string `json:"reboot_at,omitempty"`
}

// UpgradeProgress is one line of POST /v1/upgrade's answer (JSON lines,
// streamed while the appliance verifies and writes): progress, then
// either the result or the error.
type UpgradeProgress struct {
	Stage  string         `json:"stage,omitempty"` // "verify" or "write"
	Done   int64          `json:"done,omitempty"`
	Total  int64          `json:"total,omitempty"`
	Result *UpgradeResult `json:"result,omitempty"`
	Error  *Error         `json:"error,omitempty"`
}

// UpgradeBackend is implemented by a backend that can install firmware;
// NewHandler serves GET and POST /v1/upgrade only then.
type UpgradeBackend interface {
	UpgradeStatus(ctx context.Context) (UpgradeStatus, error)
	// InstallUpgrade installs the bundle received into path and schedules
	// the reboot req asks for. At most one runs at a time; another gets
	// upgrade.ErrBusy.
	InstallUpgrade(ctx context.Context, req UpgradeRequest, path string, progress upgrade.Progress) (UpgradeResult, error)
	// UploadDir is where received bundles wait for the install (the data
	// partition: the boot partition has room for the slots only).
	UploadDir() string
}

func (h *handler) upgradeRoutes(mux *http.ServeMux, b UpgradeBackend) {
	mux.HandleFunc("GET /v1/upgrade", h.admin(func(w http.ResponseWriter, r *http.Request) {
		st, err := b.UpgradeStatus(r.Context())
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.reply(w, st)
	}))
	mux.HandleFunc("POST /v1/upgrade", h.admin(func(w http.ResponseWriter, r *http.Request) {
		h.upgrade(w, r, b)
	}))
}

// upgrade receives the bundle into a file, then streams the install's
// progress as JSON lines. Errors before the first line are HTTP errors;
// later ones are the last line.
func (h *handler) upgrade(w http.ResponseWriter, r *http.Request, b UpgradeBackend) {
	req, err := ParseUpgradeRequest(r.URL.Query())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if r.ContentLength > MaxBundle {
		h.fail(w, r, Errorf(http.StatusRequestEntityTooLarge, "an update bundle is at most %d bytes; this one is %d", MaxBundle, r.ContentLength))
		return
	}
	AllowUpload(w)
	path, err := ReceiveBundle(http.MaxBytesReader(w, r.Body, MaxBundle), b.UploadDir())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer os.Remove(path)
	StreamInstall(r.Context(), w, b, req, path, h.log)
}

// AllowUpload lifts the server's short read and write deadlines for a
// bundle upload and its install. Not every connection has deadlines
// (tests' in-memory ones): the upload works without.
func AllowUpload(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	now := time.Now()
	_ = rc.SetReadDeadline(now.Add(upgradeReadTimeout))
	_ = rc.SetWriteDeadline(now.Add(upgradeWriteTimeout))
}

// StreamInstall installs the bundle at path and answers with its progress
// as JSON lines (UpgradeProgress), the last one the result or the error.
// The API and the console's upload both answer with it. It removes the
// file before the last line, so that a client that has read the answer
// finds no upload left behind.
func StreamInstall(ctx context.Context, w http.ResponseWriter, b UpgradeBackend, req UpgradeRequest, path string, log *slog.Logger) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	out := json.NewEncoder(w)
	line := func(p UpgradeProgress) {
		_ = out.Encode(p) // a client gone away is noticed by the context
		_ = rc.Flush()
	}
	var last UpgradeProgress
	res, err := b.InstallUpgrade(ctx, req, path, func(stage string, done, total int64) {
		// One line per stage change or MiB: a bundle is tens of MiB.
		if stage == last.Stage && done-last.Done < 1<<20 && done != total {
			return
		}
		last = UpgradeProgress{Stage: stage, Done: done, Total: total}
		line(last)
	})
	if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		log.Warn("removing an upload", "path", path, "err", rerr)
	}
	if err != nil {
		ae := UpgradeError(err)
		log.Info("upgrade refused", "err", ae)
		line(UpgradeProgress{Error: ae})
		return
	}
	line(UpgradeProgress{Result: &res})
}

// ReceiveBundle writes body into a new file in dir and returns its path;
// the caller removes it.
func ReceiveBundle(body io.Reader, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", Errorf(http.StatusInternalServerError, "upload directory: %v", err)
	}
	f, err := os.CreateTemp(dir, "upload-*"+upgrade.Ext)
	if err != nil {
		return "", Errorf(http.StatusInternalServerError, "upload file: %v", err)
	}
	_, err = io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "", Errorf(http.StatusRequestEntityTooLarge, "an update bundle is at most %d bytes", MaxBundle)
		}
		return "", Errorf(http.StatusBadRequest, "receiving the update bundle: %v", err)
	}
	return f.Name(), nil
}

// UpgradeError maps the installer's refusals: a bundle that is not right
// for this appliance is the request's fault (422), an install while one
// runs or the running slot is on trial a conflict (409); any other error
// is answered as the backend's are (FromValidation).
func UpgradeError(err error) *Error {
	switch {
	case errors.Is(err, upgrade.ErrBusy):
		return Errorf(http.StatusConflict, "%v", err)
	case errors.Is(err, upgrade.ErrMalformed), errors.Is(err, upgrade.ErrSignature), errors.Is(err, upgrade.ErrWrongProfile),
		errors.Is(err, upgrade.ErrVersion), errors.Is(err, upgrade.ErrDigest):
		return Errorf(http.StatusUnprocessableEntity, "%v", err)
	}
	return FromValidation(err)
}

// UpgradeStatus is GET /v1/upgrade.
func (c *Client) UpgradeStatus(ctx context.Context) (UpgradeStatus, error) {
	var st UpgradeStatus
	err := c.do(ctx, http.MethodGet, "/v1/upgrade", nil, &st)
	return st, err
}

// Upgrade is POST /v1/upgrade: it sends size bytes of bundle (-1: to its
// end, size unknown) and calls progress for each line of the answer. The
// error is the appliance's refusal, if any.
func (c *Client) Upgrade(ctx context.Context, req UpgradeRequest, bundle io.Reader, size int64, progress func(UpgradeProgress)) (UpgradeResult, error) {
	u := c.base + "/v1/upgrade"
	if q := req.Query(); len(q) > 0 {
		u += "?" + q.Encode()
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bundle)
	if err != nil {
		return UpgradeResult{}, fmt.Errorf("build request: %w", err)
	}
	hr.ContentLength = size
	hr.Header.Set("Content-Type", "application/octet-stream")
	if c.user != "" {
		hr.SetBasicAuth(c.user, c.password)
	}
	// The client's per-call timeout is for small calls; ctx bounds this
	// one, which moves tens of MiB and waits for an install.
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(hr)
	if err != nil {
		return UpgradeResult{}, fmt.Errorf("POST /v1/upgrade: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
		return UpgradeResult{}, replyError(resp, data, http.MethodPost, "/v1/upgrade")
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var p UpgradeProgress
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return UpgradeResult{}, fmt.Errorf("POST /v1/upgrade: bad progress line: %w", err)
		}
		switch {
		case p.Error != nil:
			return UpgradeResult{}, p.Error
		case p.Result != nil:
			return *p.Result, nil
		}
		if progress != nil {
			progress(p)
		}
	}
	if err := sc.Err(); err != nil {
		return UpgradeResult{}, fmt.Errorf("POST /v1/upgrade: %w", err)
	}
	return UpgradeResult{}, errors.New("POST /v1/upgrade: the appliance ended the answer without a result (did hmd stop?)")
}
