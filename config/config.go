// Package config is the appliance configuration: what the setup wizard asks,
// what OVF deployment properties or the kernel command line pre-seed, what
// the image builder can bake in for labs, and what hmd reads at start.
//
// There is one typed configuration with one Validate, stored as JSON on the
// persistent data partition and written atomically. Pairing state (peers,
// keys, HA state) is hmd's and lives in its own state directory, not here.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // the initramfs has no zoneinfo; timezone names are checked against Go's copy

	"github.com/hafw/hafw/internal/atomicfile"
)

// Role is the HA role of this appliance.
type Role string

// HA roles. RoleNone is an appliance that is not (yet) part of a pair.
const (
	RolePrimary   Role = "primary"
	RoleSecondary Role = "secondary"
	RoleNone      Role = "none"
)

// Interface is the configuration of one Ethernet port (eth0 or eth1).
type Interface struct {
	// Enabled is false for a port the appliance leaves down (the seed's
	// "The second ethernet interface is currently disabled").
	Enabled bool `json:"enabled"`
	// DHCP asks for an address lease instead of Address/Gateway.
	DHCP bool `json:"dhcp,omitempty"`
	// Address is the static address with its prefix length, e.g. 10.10.10.12/24.
	Address netip.Prefix `json:"address,omitzero"`
	// Gateway is the default gateway reached through this port, if any.
	Gateway netip.Addr `json:"gateway,omitzero"`
}

// Static reports whether the port has a fixed address.
func (i Interface) Static() bool { return i.Enabled && !i.DHCP && i.Address.IsValid() }

// Appliance is the whole appliance configuration.
type Appliance struct {
	Hostname string `json:"hostname"`
	Domain   string `json:"domain,omitempty"`
	// Profile overrides the detected hardware profile (labs and QEMU, where
	// DMI says nothing useful). Empty means: detect.
	Profile string `json:"profile,omitempty"`

	Role Role `json:"role"`
	// HealthMonitorInterface carries heartbeats, replication and the
	// management API; its address is the Health Monitor IP.
	HealthMonitorInterface string `json:"health_monitor_interface"`
	// DirectConnectInterface is the port cabled straight to the peer, or ""
	// for none.
	DirectConnectInterface string `json:"direct_connect_interface,omitempty"`
	// VIP is the virtual IP with its mask; primaries only.
	VIP netip.Prefix `json:"vip,omitzero"`

	Eth0 Interface `json:"eth0"`
	Eth1 Interface `json:"eth1"`

	DNSServers []netip.Addr `json:"dns_servers,omitempty"`
	Timezone   string       `json:"timezone"`
	NTPServers []string     `json:"ntp_servers,omitempty"`

	// RecoveryMode boots without an HA role and restores this primary's
	// configuration from its secondary (the seed's "HA recovery mode").
	RecoveryMode bool `json:"recovery_mode,omitempty"`

	// PasswordHash authenticates the management API and pairing requests;
	// see HashPassword.
	PasswordHash string `json:"password_hash,omitempty"`
}

// Default is the configuration of an appliance nobody has set up yet: it
// comes up with no HA role and DHCP on eth0 so that it is reachable.
func Default() Appliance {
	return Appliance{
		Hostname:               "mse",
		Role:                   RoleNone,
		HealthMonitorInterface: "eth0",
		Eth0:                   Interface{Enabled: true, DHCP: true},
		Timezone:               "UTC",
	}
}

// Port returns the configuration of the named port ("eth0" or "eth1").
func (a *Appliance) Port(name string) (*Interface, error) {
	switch name {
	case "eth0":
		return &a.Eth0, nil
	case "eth1":
		return &a.Eth1, nil
	}
	return nil, fmt.Errorf("unknown interface %q (want eth0 or eth1)", name)
}

// HealthMonitorIP is the static address of the health-monitor interface,
// or the zero Addr when it has none (DHCP or unset).
func (a Appliance) HealthMonitorIP() netip.Addr {
	p, err := a.Port(a.HealthMonitorInterface)
	if err != nil || !p.Static() {
		return netip.Addr{}
	}
	return p.Address.Addr()
}

// FieldError is one invalid field, named as the JSON key so that the wizard,
// the web form and the API can show it next to the right field.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// ValidationError lists every invalid field at once.
type ValidationError []*FieldError

func (v ValidationError) Error() string {
	parts := make([]string, len(v))
	for i, e := range v {
		parts[i] = e.Error()
	}
	return "invalid appliance configuration: " + strings.Join(parts, "; ")
}

// hostnameRE is the seed's rule: start with a letter, end with a letter or
// number, only letters, numbers and dashes.
var hostnameRE = regexp.MustCompile(`^[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// ValidHostname applies the seed's hostname rule.
func ValidHostname(h string) bool { return hostnameRE.MatchString(h) }

// Validate checks every field and the rules between them (the seed's HA
// rules: HIP ≠ VIP, both on one subnet; VIP on primaries only). It returns a
// ValidationError naming each bad field, or nil.
func (a Appliance) Validate() error {
	var errs ValidationError
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if !ValidHostname(a.Hostname) {
		bad("hostname", "%q must start with a letter, end with a letter or number, and contain only letters, numbers and dashes", a.Hostname)
	}
	if a.Domain != "" {
		for _, label := range strings.Split(a.Domain, ".") {
			if !ValidHostname(label) {
				bad("domain", "%q is not a valid domain name", a.Domain)
				break
			}
		}
	}
	switch a.Role {
	case RolePrimary, RoleSecondary, RoleNone:
	default:
		bad("role", "%q is not one of primary, secondary, none", a.Role)
	}
	for _, name := range []string{"eth0", "eth1"} {
		p, _ := a.Port(name)
		if !p.Enabled {
			if p.DHCP || p.Address.IsValid() || p.Gateway.IsValid() {
				bad(name, "is disabled but has address settings")
			}
			continue
		}
		if p.DHCP && (p.Address.IsValid() || p.Gateway.IsValid()) {
			bad(name, "uses DHCP and must not also have a static address or gateway")
		}
		if !p.DHCP {
			if !p.Address.IsValid() || !p.Address.Addr().Is4() {
				bad(name+".address", "a static IPv4 address with its mask is required (or DHCP)")
			} else if p.Address.Bits() < 8 || p.Address.Bits() > 30 {
				bad(name+".address", "mask /%d is not usable for a host (want /8 to /30)", p.Address.Bits())
			} else if p.Gateway.IsValid() && !p.Address.Masked().Contains(p.Gateway) {
				bad(name+".gateway", "%s is not reachable from %s", p.Gateway, p.Address)
			}
		}
	}
	hm, err := a.Port(a.HealthMonitorInterface)
	switch {
	case err != nil:
		bad("health_monitor_interface", "%v", err)
	case !hm.Enabled:
		bad("health_monitor_interface", "%s is disabled", a.HealthMonitorInterface)
	case a.Role != RoleNone && !hm.Static():
		bad("health_monitor_interface", "an HA %s needs a static address on %s (the Health Monitor IP)", a.Role, a.HealthMonitorInterface)
	}
	if a.DirectConnectInterface != "" {
		dc, err := a.Port(a.DirectConnectInterface)
		switch {
		case err != nil:
			bad("direct_connect_interface", "%v", err)
		case a.DirectConnectInterface == a.HealthMonitorInterface:
			bad("direct_connect_interface", "must differ from the health monitor interface %s", a.HealthMonitorInterface)
		case !dc.Static():
			bad("direct_connect_interface", "%s needs a static address for the direct cable", a.DirectConnectInterface)
		}
	}
	switch {
	case a.Role == RolePrimary && !a.VIP.IsValid():
		bad("vip", "a primary needs a virtual IP address")
	case a.Role != RolePrimary && a.VIP.IsValid():
		bad("vip", "only a primary has a virtual IP address")
	case a.VIP.IsValid():
		hip := a.HealthMonitorIP()
		switch {
		case !a.VIP.Addr().Is4():
			bad("vip", "%s is not an IPv4 address", a.VIP.Addr())
		case hip == a.VIP.Addr():
			bad("vip", "the virtual IP must differ from the health monitor IP %s", hip)
		case hip.IsValid() && !hm.Address.Masked().Contains(a.VIP.Addr()):
			bad("vip", "%s is not on the health monitor subnet %s", a.VIP.Addr(), hm.Address.Masked())
		case hip.IsValid() && a.VIP.Bits() != hm.Address.Bits():
			bad("vip", "mask /%d differs from the health monitor interface's /%d", a.VIP.Bits(), hm.Address.Bits())
		}
	}
	for _, d := range a.DNSServers {
		if !d.IsValid() {
			bad("dns_servers", "contains an invalid address")
		}
	}
	if _, err := time.LoadLocation(a.Timezone); err != nil || a.Timezone == "" || a.Timezone == "Local" {
		bad("timezone", "%q is not a known time zone (for example UTC or Europe/Brussels)", a.Timezone)
	}
	for _, s := range a.NTPServers {
		if strings.TrimSpace(s) == "" || strings.ContainsAny(s, " \t/") {
			bad("ntp_servers", "%q is not a host name or address", s)
		}
	}
	if a.RecoveryMode && a.Role == RoleSecondary {
		bad("recovery_mode", "only a primary can be restored from its secondary")
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Parse decodes and validates a configuration; unknown keys are errors so
// that a typo is not silently ignored.
func Parse(data []byte) (Appliance, error) {
	var a Appliance
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return Appliance{}, fmt.Errorf("decode appliance configuration: %w", err)
	}
	if err := a.Validate(); err != nil {
		return Appliance{}, err
	}
	return a, nil
}

// Marshal encodes a configuration in its stored form.
func (a Appliance) Marshal() ([]byte, error) {
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode appliance configuration: %w", err)
	}
	return append(data, '\n'), nil
}

// ErrNotConfigured is returned by Load when no configuration was ever saved.
var ErrNotConfigured = errors.New("appliance is not configured")

// Load reads and validates the configuration at path.
func Load(path string) (Appliance, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Appliance{}, fmt.Errorf("%s: %w", path, ErrNotConfigured)
	}
	if err != nil {
		return Appliance{}, fmt.Errorf("read appliance configuration: %w", err)
	}
	a, err := Parse(data)
	if err != nil {
		return Appliance{}, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// Save validates a and writes it atomically to path.
func Save(path string, a Appliance) error {
	if err := a.Validate(); err != nil {
		return err
	}
	data, err := a.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}

// Layout names the files on the persistent data partition. Every program
// finds its files through it, so the partition's layout is stated once.
type Layout struct {
	// Root is where the data partition is mounted (/data on the appliance).
	Root string
}

// DefaultRoot is the mount point of the data partition on the appliance.
const DefaultRoot = "/data"

// DataPartitionLabel is the filesystem label of the persistent partition
// the image builder creates and the init agent mounts.
const DataPartitionLabel = "hafw-data"

// ConfigFile is the appliance configuration.
func (l Layout) ConfigFile() string { return filepath.Join(l.Root, "config", "appliance.json") }

// LicenseDir holds the installed license files (*.lic).
func (l Layout) LicenseDir() string { return filepath.Join(l.Root, "licenses") }

// HMDDir is hmd's state directory (pairing, HA state, events).
func (l Layout) HMDDir() string { return filepath.Join(l.Root, "hmd") }

// InstanceDir holds the service instance's database and file area.
func (l Layout) InstanceDir() string { return filepath.Join(l.Root, "instance") }
