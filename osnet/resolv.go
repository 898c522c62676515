package osnet

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/hafw/hafw/internal/atomicfile"
)

// ResolvConf renders resolv.conf for the given servers and search domain.
// Only the first three servers are written: the C resolver ignores more.
func ResolvConf(servers []netip.Addr, domain string) []byte {
	var b strings.Builder
	b.WriteString("# written by hafw; changes are overwritten\n")
	if domain != "" {
		fmt.Fprintf(&b, "search %s\n", domain)
	}
	for i, s := range servers {
		if i == 3 {
			break
		}
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	return []byte(b.String())
}

// WriteResolvConf replaces path (normally /etc/resolv.conf) atomically.
func WriteResolvConf(path string, servers []netip.Addr, domain string) error {
	for _, s := range servers {
		if !s.IsValid() {
			return fmt.Errorf("write %s: invalid DNS server address", path)
		}
	}
	if strings.ContainsAny(domain, " \t\n#;") {
		return fmt.Errorf("write %s: invalid search domain %q", path, domain)
	}
	if err := atomicfile.Write(path, ResolvConf(servers, domain), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
