package appliance

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/hafw/hafw/board"
	"github.com/hafw/hafw/config"
)

// ProfileSource says where the profile of an Identity came from.
type ProfileSource int

// Where a profile comes from, in the order Resolve tries them.
const (
	// FromHardware: no override anywhere; board recognised the machine.
	FromHardware ProfileSource = iota
	// FromCmdline: hafw.profile= on the kernel command line.
	FromCmdline
	// FromConfig: the appliance configuration's profile.
	FromConfig
	// FromImage: the image's profile file (/etc/hafw/profile).
	FromImage
)

// String names the source for logs and the console.
func (s ProfileSource) String() string {
	switch s {
	case FromCmdline:
		return "kernel command line hafw.profile="
	case FromConfig:
		return "configuration"
	case FromImage:
		return "image profile file"
	}
	return "hardware"
}

// Sources are what an identity is resolved from. The zero Board is this
// machine; tests point it at a fixture tree.
type Sources struct {
	// Board is where DMI and /proc facts are read.
	Board board.System
	// Cmdline is the parsed kernel command line (its Profile).
	Cmdline Cmdline
	// Config gives the hostname (a virtual appliance's serial) and the
	// configured profile.
	Config config.Appliance
	// ProfileFile is the image's profile file; "" or a missing file
	// names no profile.
	ProfileFile string
}

// Identity is who this appliance is: the platform board concluded (its
// profile and UDI) and where the profile came from.
type Identity struct {
	board.Platform
	Source ProfileSource
}

// ProfileOverride is the rule every component follows: the first
// non-empty of the kernel command line's hafw.profile=, the configured
// profile and the image's profile; none of them means the hardware
// decides (FromHardware with an empty name).
func ProfileOverride(cmdline, configured, image string) (string, ProfileSource) {
	for _, c := range []struct {
		name string
		src  ProfileSource
	}{{cmdline, FromCmdline}, {configured, FromConfig}, {image, FromImage}} {
		if name := strings.TrimSpace(c.name); name != "" {
			return name, c.src
		}
	}
	return "", FromHardware
}

// Resolve determines the profile and the UDI: the profile by
// ProfileOverride, the UDI by board's rule (board.Classify) with the
// configuration's hostname, or the machine's when the configuration has
// none. It reads the image's profile file and the machine's facts; an
// error says which could not be read or why the machine is no appliance.
func Resolve(src Sources) (Identity, error) {
	image, err := readProfileFile(src.ProfileFile)
	if err != nil {
		return Identity{}, err
	}
	name, from := ProfileOverride(src.Cmdline.Profile, src.Config.Profile, image)
	hostname := src.Config.Hostname
	if hostname == "" {
		if hostname, err = os.Hostname(); err != nil {
			return Identity{}, fmt.Errorf("identify the appliance: read the hostname: %w", err)
		}
	}
	pl, err := board.Detect(src.Board, hostname, name)
	if err != nil {
		return Identity{}, fmt.Errorf("identify the appliance: %w", err)
	}
	return Identity{Platform: pl, Source: from}, nil
}

func readProfileFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("identify the appliance: read the image's profile: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}
