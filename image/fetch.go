package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cavaliergopher/grab/v3"
)

// ErrChecksum is returned when a download does not match its SHA-256.
var ErrChecksum = errors.New("checksum mismatch")

// IsURL tells a URL argument (fetched) from a local path.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// Fetcher downloads build inputs into a cache keyed by SHA-256: a file is
// fetched once, verified, and reused by every later build that names the
// same hash, after hashing it again. An interrupted download stays as a .part file and is resumed
// (HTTP range request) by the next attempt; a file that fails verification
// is deleted. Nothing is ever written outside the cache directory.
type Fetcher struct {
	CacheDir string
	Client   *grab.Client
	// Progress, when set (a terminal), gets a progress line several times
	// a second; otherwise only start and end are logged.
	Progress io.Writer
	Log      *slog.Logger
}

// Fetch returns the path of the cached file with the given SHA-256 (hex),
// downloading it from url if needed.
func (f Fetcher) Fetch(ctx context.Context, url, sum string) (string, error) {
	want, err := hex.DecodeString(strings.ToLower(sum))
	if err != nil || len(want) != sha256.Size {
		return "", fmt.Errorf("%w: --kernel-sha256 must be 64 hex digits, got %q", ErrBadInput, sum)
	}
	sum = hex.EncodeToString(want)
	dir := filepath.Join(f.CacheDir, "sha256")
	final := filepath.Join(dir, sum)
	log := f.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// A cached file is hashed again on every use: the name says what it
	// was, not what it is now (a damaged disk or anyone who can write the
	// cache could have changed it). One that no longer matches is fetched
	// again.
	if got, err := fileSHA256(final); err == nil {
		if got == sum {
			return final, nil
		}
		log.Warn("cached download does not match its SHA-256: fetching it again", "path", final, "sha256", got)
		if err := os.Remove(final); err != nil {
			return "", fmt.Errorf("removing damaged cached %s: %w", final, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("download cache: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating download cache: %w", err)
	}
	client := f.Client
	if client == nil {
		client = grab.NewClient()
		client.UserAgent = "hafw-build"
	}
	part := final + ".part"
	req, err := grab.NewRequest(part, url)
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", url, err)
	}
	req = req.WithContext(ctx)
	req.SetChecksum(sha256.New(), want, true)
	log.Info("downloading", "url", url, "sha256", sum)
	resp := client.Do(req)
	f.watch(resp)
	if err := resp.Err(); err != nil {
		if errors.Is(err, grab.ErrBadChecksum) {
			os.Remove(part)
			return "", fmt.Errorf("fetching %s: %w: the file does not have SHA-256 %s (deleted)", url, ErrChecksum, sum)
		}
		return "", fmt.Errorf("fetching %s: %w (partial download kept for resume)", url, err)
	}
	if err := os.Rename(part, final); err != nil {
		return "", fmt.Errorf("caching %s: %w", url, err)
	}
	log.Info("downloaded", "url", url, "bytes", resp.BytesComplete(), "resumed", resp.DidResume)
	return final, nil
}

// watch draws the progress line until the transfer ends.
func (f Fetcher) watch(resp *grab.Response) {
	if f.Progress == nil {
		<-resp.Done
		return
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			fmt.Fprintf(f.Progress, "\r%s  %6.1f%%  %d / %d bytes  %.1f MB/s ", filepath.Base(resp.Request.URL().Path),
				100*resp.Progress(), resp.BytesComplete(), resp.Size(), resp.BytesPerSecond()/1e6)
		case <-resp.Done:
			fmt.Fprintf(f.Progress, "\r%s  %d bytes done%20s\n", filepath.Base(resp.Request.URL().Path), resp.BytesComplete(), "")
			return
		}
	}
}

// VerifySHA256 checks a local input against its expected SHA-256 (hex).
func VerifySHA256(path, sum string) error {
	want, err := hex.DecodeString(strings.ToLower(sum))
	if err != nil || len(want) != sha256.Size {
		return fmt.Errorf("%w: --kernel-sha256 must be 64 hex digits, got %q", ErrBadInput, sum)
	}
	got, err := fileSHA256(path)
	if err != nil {
		return err
	}
	if got != hex.EncodeToString(want) {
		return fmt.Errorf("%s: %w: has SHA-256 %s, expected %s", path, ErrChecksum, got, hex.EncodeToString(want))
	}
	return nil
}
