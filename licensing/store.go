package licensing

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hafw/hafw/internal/atomicfile"
)

// Ext is the file name extension of an installed license.
const Ext = ".lic"

// ErrNotInstalled is returned by Store.Remove for an unknown license ID.
var ErrNotInstalled = errors.New("no such license installed")

// Store is the license directory of one machine (config.Layout.LicenseDir on
// the appliance). It checks every license against the vendor key Pub and
// the machine's UDI, so a foreign or forged file is refused at install time
// and ignored (with a reason) if someone copies it in by hand.
type Store struct {
	Dir string
	Pub ed25519.PublicKey
	UDI UDI
	// Now is the clock for expiry checks; nil means time.Now.
	Now func() time.Time
}

// Installed is one file in the store and what verifying it gave.
type Installed struct {
	File    string  // full path
	License License // zero when the file does not even parse
	Err     error   // nil when the license is valid on this machine now; names the file
}

func (s Store) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// Install verifies data and writes it as <id>.lic atomically. A license
// that does not verify, or whose ID is already installed with different
// content, is refused and the directory is left as it was. Installing the
// same license twice is not an error.
func (s Store) Install(data []byte) (License, error) {
	l, err := Verify(data, s.Pub, s.UDI, s.now())
	if err != nil {
		return License{}, fmt.Errorf("refusing license: %w", err)
	}
	path := filepath.Join(s.Dir, l.ID+Ext)
	old, err := os.ReadFile(path)
	switch {
	case err == nil && bytes.Equal(old, data):
		return l, nil
	case err == nil:
		return License{}, fmt.Errorf("refusing license %s: a different license with this id is installed in %s", l.ID, path)
	case !errors.Is(err, fs.ErrNotExist):
		return License{}, fmt.Errorf("installing license %s: %w", l.ID, err)
	}
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return License{}, fmt.Errorf("installing license %s: %w", l.ID, err)
	}
	return l, nil
}

// List verifies every *.lic file in the directory, sorted by file name. A
// missing directory is an empty store. A license ID that appears in more
// than one file counts once; the later files carry an error.
func (s Store) List() ([]Installed, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing licenses: %w", err)
	}
	now := s.now()
	var out []Installed
	seen := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, Ext) || strings.HasPrefix(name, ".") || !e.Type().IsRegular() {
			continue
		}
		in := Installed{File: filepath.Join(s.Dir, name)}
		data, err := os.ReadFile(in.File)
		if err != nil {
			in.Err = fmt.Errorf("%s: %w", in.File, err)
			out = append(out, in)
			continue
		}
		if p, perr := parse(data); perr == nil {
			in.License = p.license
		}
		if _, err := Verify(data, s.Pub, s.UDI, now); err != nil {
			in.Err = fmt.Errorf("%s: %w", in.File, err)
		} else if first, dup := seen[in.License.ID]; dup {
			in.Err = fmt.Errorf("%s: license %s is already counted from %s", in.File, in.License.ID, first)
		} else {
			seen[in.License.ID] = in.File
		}
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}

// LoadVerified returns the licenses valid on this machine now, plus one
// error per file that is not (each naming the file), so that a caller can
// log them and carry on with the valid ones. err is set only when the
// directory cannot be read.
func (s Store) LoadVerified() (valid []License, problems []error, err error) {
	all, err := s.List()
	if err != nil {
		return nil, nil, err
	}
	for _, in := range all {
		if in.Err != nil {
			problems = append(problems, in.Err)
			continue
		}
		valid = append(valid, in.License)
	}
	return valid, problems, nil
}

// Remove deletes the installed license with the given ID (including one
// that no longer verifies, e.g. expired).
func (s Store) Remove(id string) error {
	if !idRE.MatchString(id) {
		return fmt.Errorf("removing license: %w: id %q", ErrMalformed, id)
	}
	all, err := s.List()
	if err != nil {
		return err
	}
	var files []string
	for _, in := range all {
		if in.License.ID == id || filepath.Base(in.File) == id+Ext {
			files = append(files, in.File)
		}
	}
	if len(files) == 0 {
		return fmt.Errorf("removing license %s: %w in %s", id, ErrNotInstalled, s.Dir)
	}
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("removing license %s: %w", id, err)
		}
	}
	return atomicfile.SyncDir(s.Dir)
}

// RemoveFeature deletes every installed license of feature f, also one
// that no longer verifies (expired), and returns them; none installed is
// not an error (the result is empty). The operator's "delete the
// activation license" asks for exactly that.
func (s Store) RemoveFeature(f Feature) ([]License, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var removed []License
	for _, in := range all {
		if in.License.Feature != f || slices.ContainsFunc(removed, func(r License) bool { return r.ID == in.License.ID }) {
			continue
		}
		if err := s.Remove(in.License.ID); err != nil {
			return removed, err
		}
		removed = append(removed, in.License)
	}
	return removed, nil
}
