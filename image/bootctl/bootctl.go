// Package bootctl talks to systemd-boot through its EFI variables on a
// running appliance: which loader entry booted (LoaderEntrySelected) and a
// one-shot choice for the next boot only (LoaderEntryOneShot), which
// systemd-boot consumes and deletes, so the boot after that is normal
// again. `hafw reboot --recovery` uses it to reach the recovery entry the
// image builder writes next to every slot's normal entry.
package bootctl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf16"

	"golang.org/x/sys/unix"

	"github.com/hafw/hafw/upgrade"
)

// loaderGUID is systemd-boot's vendor GUID for its variables (the Boot
// Loader Interface).
const loaderGUID = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"

// Variable attributes: non-volatile, boot service and runtime access, as
// systemd's bootctl writes LoaderEntryOneShot.
const attrNVBSRT = 0x7

// fsImmutableFL is the inode flag efivarfs sets on variable files
// (FS_IMMUTABLE_FL in linux/fs.h).
const fsImmutableFL = 0x10

// DefaultEfivars is where efivarfs is mounted.
const DefaultEfivars = "/sys/firmware/efi/efivars"

// ErrNoEFI means the machine did not boot through UEFI (no variables).
var ErrNoEFI = errors.New("not booted through UEFI: no EFI variables")

// EncodeString is an efivarfs file's content for a string variable: the
// 4-byte attributes, then UTF-16LE text with a terminating NUL.
func EncodeString(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 4, 4+2*len(u)+2)
	binary.LittleEndian.PutUint32(b, attrNVBSRT)
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return append(b, 0, 0)
}

// DecodeString reverses EncodeString, ignoring the attributes.
func DecodeString(b []byte) (string, error) {
	if len(b) < 4 || (len(b)-4)%2 != 0 {
		return "", fmt.Errorf("EFI string variable of %d bytes: want 4 bytes of attributes and UTF-16 text", len(b))
	}
	u := make([]uint16, 0, (len(b)-4)/2)
	for i := 4; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u)), nil
}

// RecoveryEntry names the recovery entry of the slot that entry boots:
// the builder and the installer write hafw-<slot>.conf (or, on trial, a
// counted hafw-<slot>+N.conf that the loader renames hafw-<slot>+L-D.conf)
// next to hafw-<slot>-recovery.conf.
func RecoveryEntry(selected string) (string, error) {
	e, ok := upgrade.ParseEntry(selected)
	if !ok || e.Recovery {
		return "", fmt.Errorf("booted loader entry %q is not a hafw slot entry (hafw-<slot>.conf)", selected)
	}
	return upgrade.EntryName(e.Slot, true, 0), nil
}

// Vars reads and writes systemd-boot's variables in an efivarfs directory.
type Vars struct{ Dir string }

func (v Vars) path(name string) string { return filepath.Join(v.Dir, name+"-"+loaderGUID) }

// Selected is the loader entry this boot came from.
func (v Vars) Selected() (string, error) {
	b, err := os.ReadFile(v.path("LoaderEntrySelected"))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("reading LoaderEntrySelected: %w (not booted by systemd-boot, or efivarfs not mounted at %s)", err, v.Dir)
	}
	if err != nil {
		return "", fmt.Errorf("reading LoaderEntrySelected: %w", err)
	}
	return DecodeString(b)
}

// SetOneShot makes systemd-boot boot entry once, at the next boot.
// efivarfs cannot rename, so this is a single write of the whole variable
// (the firmware stores it atomically); an existing variable file is
// immutable until its flag is cleared.
func (v Vars) SetOneShot(entry string) error {
	p := v.path("LoaderEntryOneShot")
	if err := clearImmutable(p); err != nil {
		return fmt.Errorf("setting LoaderEntryOneShot: %w", err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("setting LoaderEntryOneShot: %w", err)
	}
	if _, err := f.Write(EncodeString(entry)); err != nil {
		f.Close()
		return fmt.Errorf("setting LoaderEntryOneShot: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("setting LoaderEntryOneShot: %w", err)
	}
	return nil
}

// OneShot is the pending one-shot entry, "" when none.
func (v Vars) OneShot() (string, error) {
	b, err := os.ReadFile(v.path("LoaderEntryOneShot"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading LoaderEntryOneShot: %w", err)
	}
	return DecodeString(b)
}

// clearImmutable drops the immutable flag efivarfs sets on existing
// variables; a missing file, or a file system without flags, needs nothing.
func clearImmutable(p string) error {
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EOPNOTSUPP) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading flags of %s: %w", p, err)
	}
	if flags&fsImmutableFL == 0 {
		return nil
	}
	if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags&^fsImmutableFL)); err != nil {
		return fmt.Errorf("clearing immutable flag of %s: %w", p, err)
	}
	return nil
}

// EnsureMounted mounts efivarfs at dir when the machine booted through
// UEFI and nothing is mounted there yet (the init agent mounts only what
// the appliance needs; efivarfs is needed only here).
func EnsureMounted(dir string) error {
	if _, err := os.Stat(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("%w (%s missing)", ErrNoEFI, filepath.Dir(dir))
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil && st.Type == unix.EFIVARFS_MAGIC {
		return nil
	}
	if err := unix.Mount("efivarfs", dir, "efivarfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting efivarfs at %s: %w", dir, err)
	}
	return nil
}
