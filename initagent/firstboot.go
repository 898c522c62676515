package initagent

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/hafw/hafw/config"
)

// ConfigKeys lists the configuration keys accepted from the kernel command
// line (with the hafw. prefix) and from OVF properties (without), in the
// order they are applied (eth0 before gw: the gateway belongs to eth0).
func ConfigKeys() []string {
	return []string{"hostname", "role", "eth0", "gw", "eth1", "vip", "dc", "dns", "ntp", "tz", "password"}
}

// ApplyKeys overlays first-boot configuration keys on base and validates
// the result. Unknown keys and bad values are errors naming the key, so a
// typo in a deployment property is reported instead of silently ignored.
// An empty key set returns base unchanged.
func ApplyKeys(base config.Appliance, keys map[string]string) (config.Appliance, error) {
	a := base
	var unknown []string
	for k := range keys {
		if !isFirstBootKey(k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return base, fmt.Errorf("unknown configuration keys %s (known: %s)", strings.Join(unknown, ", "), strings.Join(ConfigKeys(), ", "))
	}
	for _, k := range ConfigKeys() {
		v, ok := keys[k]
		if !ok {
			continue
		}
		if err := applyKey(&a, k, strings.TrimSpace(v)); err != nil {
			if k == "password" {
				return base, fmt.Errorf("configuration key %s (value not shown): %w", k, err)
			}
			return base, fmt.Errorf("configuration key %s=%q: %w", k, v, err)
		}
	}
	if err := a.Validate(); err != nil {
		return base, err
	}
	return a, nil
}

func isFirstBootKey(k string) bool {
	return slices.Contains(ConfigKeys(), k)
}

func applyKey(a *config.Appliance, k, v string) error {
	switch k {
	case "hostname":
		a.Hostname = v
	case "role":
		switch config.Role(v) {
		case config.RolePrimary, config.RoleSecondary, config.RoleNone:
			a.Role = config.Role(v)
		default:
			return fmt.Errorf("want primary, secondary or none")
		}
	case "eth0":
		return parsePort(&a.Eth0, v)
	case "eth1":
		return parsePort(&a.Eth1, v)
	case "gw":
		gw, err := netip.ParseAddr(v)
		if err != nil {
			return fmt.Errorf("parse gateway: %w", err)
		}
		a.Eth0.Gateway = gw
	case "vip":
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return fmt.Errorf("want ADDR/PREFIX: %w", err)
		}
		a.VIP = p
	case "dc":
		switch v {
		case "none", "":
			a.DirectConnectInterface = ""
		case "eth0", "eth1":
			a.DirectConnectInterface = v
		default:
			return fmt.Errorf("want eth0, eth1 or none")
		}
	case "dns":
		a.DNSServers = nil
		for _, s := range splitList(v) {
			ip, err := netip.ParseAddr(s)
			if err != nil {
				return fmt.Errorf("parse DNS server: %w", err)
			}
			a.DNSServers = append(a.DNSServers, ip)
		}
	case "ntp":
		a.NTPServers = splitList(v)
	case "tz":
		a.Timezone = v
	case "password":
		if config.IsPasswordHash(v) {
			a.PasswordHash = v // hashed beforehand: the password is not on the command line
			break
		}
		// A password in clear is the operator's choice, held to the
		// wizard's rule; a hash cannot be checked (hafw hash-password
		// checked it).
		if err := config.CheckPasswordStrength(v); err != nil {
			return err
		}
		h, err := config.HashPassword(v)
		if err != nil {
			return fmt.Errorf("hash password: %w", err)
		}
		a.PasswordHash = h
	}
	return nil
}

// parsePort reads "ADDR/PREFIX", "dhcp" or "none"/"disabled".
func parsePort(p *config.Interface, v string) error {
	switch strings.ToLower(v) {
	case "dhcp":
		*p = config.Interface{Enabled: true, DHCP: true}
		return nil
	case "none", "disabled", "off":
		*p = config.Interface{}
		return nil
	}
	addr, err := netip.ParsePrefix(v)
	if err != nil {
		return fmt.Errorf("want ADDR/PREFIX or dhcp: %w", err)
	}
	*p = config.Interface{Enabled: true, Address: addr}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
