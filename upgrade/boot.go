package upgrade

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/hafw/hafw/internal/atomicfile"
)

// Boot is the boot partition as the installer and the boot-time decisions
// see it; names are slash-separated paths relative to its root. Every
// write is durable when it returns and appears whole or not at all.
type Boot interface {
	ReadFile(name string) ([]byte, error)
	// WriteFile replaces name with everything r yields: written aside,
	// fsynced, renamed into place, the directory fsynced.
	WriteFile(name string, r io.Reader) error
	// Rename moves a file within one directory, durably.
	Rename(oldName, newName string) error
	// Remove deletes a file; a missing file is not an error.
	Remove(name string) error
	// List names the files of a directory, sorted; a missing directory
	// is empty.
	List(dir string) ([]string, error)
}

// Dir is a Boot on a mounted file system (the ESP, vfat, on the
// appliance; a temporary directory in tests).
//
// Every change ends with syncfs on the whole file system: on vfat, fsync
// of a file or a directory does not write the FAT and the directory
// entries that make a rename or a new file durable, so without it a power
// cut right after a "durable" write can lose the entry (or the commit).
type Dir string

// durable finishes a change: fsync of dir, then syncfs of the file
// system.
func (d Dir) durable(dir string) error {
	if err := atomicfile.SyncDir(dir); err != nil {
		return err
	}
	return d.syncFS()
}

func (d Dir) syncFS() error {
	f, err := os.Open(string(d))
	if err != nil {
		return fmt.Errorf("syncing the boot partition: %w", err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncing the boot partition %s: %w", string(d), err)
	}
	return nil
}

func (d Dir) path(name string) string { return filepath.Join(string(d), filepath.FromSlash(name)) }

// ReadFile implements Boot.
func (d Dir) ReadFile(name string) ([]byte, error) { return os.ReadFile(d.path(name)) }

// WriteFile implements Boot. The temporary name starts with a dot and
// does not end in .conf, so systemd-boot never reads a half-written entry.
func (d Dir) WriteFile(name string, r io.Reader) error {
	p := d.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	tmp := filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".part")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return d.durable(filepath.Dir(p))
}

// Rename implements Boot.
func (d Dir) Rename(oldName, newName string) error {
	if err := os.Rename(d.path(oldName), d.path(newName)); err != nil {
		return fmt.Errorf("renaming %s: %w", oldName, err)
	}
	return d.durable(filepath.Dir(d.path(newName)))
}

// Remove implements Boot.
func (d Dir) Remove(name string) error {
	err := os.Remove(d.path(name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", name, err)
	}
	if err == nil {
		return d.durable(filepath.Dir(d.path(name)))
	}
	return nil
}

// List implements Boot.
func (d Dir) List(dir string) ([]string, error) {
	ents, err := os.ReadDir(d.path(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}
