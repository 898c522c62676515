package notify

import (
	"fmt"
	"net/netip"
	"regexp"
	"time"

	"github.com/hafw/hafw/config"
)

// SNMP versions a destination can use.
const (
	V2c = "v2c"
	V3  = "v3"
)

// SNMPv3 protocols. Only authPriv is offered: an appliance's HA events are
// not for a network where anyone can read or forge them.
const (
	AuthSHA    = "SHA"
	AuthSHA256 = "SHA-256"
	PrivAES    = "AES"
	PrivAES256 = "AES-256"
)

// DefaultTrapPort is where SNMP managers listen for notifications.
const DefaultTrapPort = 162

// Destination is one trap receiver: the seed's "Trap Destination - n".
// Community, AuthKey and PrivKey are secrets: they are stored (0600) but
// never shown again; View is what operators see.
type Destination struct {
	Name string `json:"name"`
	// Address is "IP" or "IP:port" (port 162 when absent).
	Address   string `json:"address"`
	Version   string `json:"version"`
	Community string `json:"community,omitempty"`
	// User, AuthProtocol, AuthKey, PrivProtocol and PrivKey are SNMPv3's
	// USM user (authPriv).
	User         string `json:"user,omitempty"`
	AuthProtocol string `json:"auth_protocol,omitempty"`
	AuthKey      string `json:"auth_key,omitempty"`
	PrivProtocol string `json:"priv_protocol,omitempty"`
	PrivKey      string `json:"priv_key,omitempty"`
	// Inform asks the receiver to acknowledge (retried until it does, or
	// the retries run out); otherwise notifications are traps.
	Inform bool `json:"inform,omitempty"`
	// Updated is when the destination was last set (getserverinfo's
	// "Last Updated").
	Updated time.Time `json:"updated"`
}

// View is a destination without its secrets.
type View struct {
	Name         string    `json:"name"`
	Address      string    `json:"address"`
	Version      string    `json:"version"`
	User         string    `json:"user,omitempty"`
	AuthProtocol string    `json:"auth_protocol,omitempty"`
	PrivProtocol string    `json:"priv_protocol,omitempty"`
	Inform       bool      `json:"inform,omitempty"`
	Updated      time.Time `json:"updated"`
	// Queued, Sent, Failed and Dropped count this destination's
	// notifications since hmd started; LastError is the latest failure.
	Queued    int    `json:"queued"`
	Sent      uint64 `json:"sent"`
	Failed    uint64 `json:"failed"`
	Dropped   uint64 `json:"dropped"`
	LastError string `json:"last_error,omitempty"`
}

// View returns d without its secrets.
func (d Destination) View() View {
	return View{Name: d.Name, Address: d.Address, Version: d.Version, User: d.User,
		AuthProtocol: d.AuthProtocol, PrivProtocol: d.PrivProtocol, Inform: d.Inform, Updated: d.Updated}
}

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)
	secretRE = regexp.MustCompile(`^[\x21-\x7e]+$`)
)

// AddrPort is the destination's UDP address.
func (d Destination) AddrPort() (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(d.Address); err == nil {
		if ap.Port() == 0 {
			return netip.AddrPort{}, fmt.Errorf("port 0 is not a port")
		}
		return ap, nil
	}
	ip, err := netip.ParseAddr(d.Address)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q is not an IP address or IP:port", d.Address)
	}
	return netip.AddrPortFrom(ip, DefaultTrapPort), nil
}

// Validate reports every bad field at once, named by its JSON key.
func (d Destination) Validate() error {
	var errs config.ValidationError
	bad := func(field, format string, args ...any) {
		errs = append(errs, &config.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if !nameRE.MatchString(d.Name) {
		bad("name", "%q must be 1 to 32 letters, digits, dots, dashes or underscores", d.Name)
	}
	if ap, err := d.AddrPort(); err != nil {
		bad("address", "%v", err)
	} else if a := ap.Addr(); a.IsUnspecified() || a.IsMulticast() {
		bad("address", "%s cannot receive notifications", a)
	}
	secret := func(field, v string, min int) {
		switch {
		case len(v) < min || len(v) > 64:
			bad(field, "must be %d to 64 characters", min)
		case !secretRE.MatchString(v):
			bad(field, "must be printable ASCII without spaces")
		}
	}
	unused := func(field, v string) {
		if v != "" {
			bad(field, "is for SNMPv3 only")
		}
	}
	switch d.Version {
	case V2c:
		secret("community", d.Community, 1)
		unused("user", d.User)
		unused("auth_key", d.AuthKey)
		unused("priv_key", d.PrivKey)
	case V3:
		if d.Community != "" {
			bad("community", "is for SNMPv2c only")
		}
		if !nameRE.MatchString(d.User) {
			bad("user", "%q must be 1 to 32 letters, digits, dots, dashes or underscores", d.User)
		}
		if d.AuthProtocol != AuthSHA && d.AuthProtocol != AuthSHA256 {
			bad("auth_protocol", "%q: want %s or %s", d.AuthProtocol, AuthSHA, AuthSHA256)
		}
		if d.PrivProtocol != PrivAES && d.PrivProtocol != PrivAES256 {
			bad("priv_protocol", "%q: want %s or %s", d.PrivProtocol, PrivAES, PrivAES256)
		}
		// USM needs pass phrases of at least 8 characters (RFC 3414).
		secret("auth_key", d.AuthKey, 8)
		secret("priv_key", d.PrivKey, 8)
	default:
		bad("version", "%q: want %s or %s", d.Version, V2c, V3)
	}
	if errs != nil {
		return errs
	}
	return nil
}

// String names the destination in logs and errors (never its secrets).
func (d Destination) String() string {
	return d.Name + " (" + d.Version + " " + d.Address + ")"
}
