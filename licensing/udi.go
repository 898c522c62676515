// Package licensing is the appliance's license model: the platform UDI a
// license is bound to, the signed text license file, the vendor key pair
// that signs them, a store for the installed licenses of one machine, and
// the License Summary (platform limit against installed limit per service).
//
// The package is pure apart from Store and the key file helpers, which read
// and write the files they are given; it knows nothing of the machine — the
// board package finds the UDI.
package licensing

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// UDI is the Unique Device Identifier a license is bound to, written
// PID:VID:SN, for example AIR-MSE-3355-K9:V01:KQ45xx or, for a virtual
// appliance, AIR-MSE-VA-K9:V01:mse2_666f2046-5699-11e1-b1b1-0050568901d9.
type UDI struct {
	PID string // product ID, e.g. AIR-MSE-VA-K9
	VID string // version ID, e.g. V01
	SN  string // serial number; <hostname>_<uuid> on a virtual appliance
}

// ErrMalformedUDI is matched by every UDI parse or validation error.
var ErrMalformedUDI = errors.New("malformed UDI")

var (
	pidRE = regexp.MustCompile(`^[A-Z0-9](?:[A-Z0-9-]{0,38}[A-Z0-9])?$`)
	vidRE = regexp.MustCompile(`^V[0-9]{2}$`)
	// A serial is a DMI serial or <hostname>_<uuid>: letters, digits and
	// . _ - only, so that it never contains the ':' separator or spaces.
	snRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$`)
)

// ParseUDI reads PID:VID:SN strictly: exactly three parts, each validated,
// nothing trimmed, so that String gives back the same text.
func ParseUDI(s string) (UDI, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return UDI{}, fmt.Errorf("%w %q: want PID:VID:SN (three parts), got %d part(s)", ErrMalformedUDI, s, len(parts))
	}
	u := UDI{PID: parts[0], VID: parts[1], SN: parts[2]}
	if err := u.Validate(); err != nil {
		return UDI{}, err
	}
	return u, nil
}

// Validate checks each part of the UDI.
func (u UDI) Validate() error {
	switch {
	case !pidRE.MatchString(u.PID):
		return fmt.Errorf("%w: product ID %q: want upper-case letters, digits and '-' (e.g. AIR-MSE-VA-K9)", ErrMalformedUDI, u.PID)
	case !vidRE.MatchString(u.VID):
		return fmt.Errorf("%w: version ID %q: want V and two digits (e.g. V01)", ErrMalformedUDI, u.VID)
	case !snRE.MatchString(u.SN):
		return fmt.Errorf("%w: serial number %q: want 1-128 letters, digits, '.', '_' or '-'", ErrMalformedUDI, u.SN)
	}
	return nil
}

// String formats the UDI as PID:VID:SN.
func (u UDI) String() string { return u.PID + ":" + u.VID + ":" + u.SN }
