package appliance

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Cmdline is what the firmware takes from the kernel command line: the
// boot switches (recovery, hang, the profile override) and the first-boot
// configuration keys (hafw.* with the prefix stripped, the same names the
// OVF properties use; the init agent applies them).
type Cmdline struct {
	// Recovery is hafw.recovery: boot without an HA role and let hmd restore
	// this primary's configuration from its secondary.
	Recovery bool
	// Hang is hafw.hang: on a fatal error hang (for debugging at the console)
	// instead of rebooting.
	Hang bool
	// Profile is hafw.profile=MODEL, overriding the detected hardware profile.
	Profile string
	// Keys are the first-boot configuration keys (hostname, role, eth0, …).
	Keys map[string]string
}

// ParseCmdline splits /proc/cmdline into the hafw.* keys. Quoted values
// ("hafw.password=a b") are honoured the way the kernel honours them;
// other parameters are ignored.
func ParseCmdline(s string) Cmdline {
	c := Cmdline{Keys: map[string]string{}}
	for _, field := range splitCmdline(s) {
		key, value, hasValue := strings.Cut(field, "=")
		name, ok := strings.CutPrefix(key, "hafw.")
		if !ok {
			continue
		}
		switch name {
		case "recovery":
			c.Recovery = !hasValue || truthy(value)
		case "hang":
			c.Hang = !hasValue || truthy(value)
		case "profile":
			c.Profile = value
		default:
			if hasValue {
				c.Keys[name] = value
			}
		}
	}
	return c
}

func truthy(v string) bool {
	switch strings.ToLower(v) {
	case "0", "no", "false", "off":
		return false
	}
	return true
}

// splitCmdline splits on spaces outside double quotes and drops the quotes,
// as the kernel's parameter parser does.
func splitCmdline(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote = !inQuote
			have = true
		case (r == ' ' || r == '\t' || r == '\n') && !inQuote:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// ReadCmdline reads and parses the kernel command line file (/proc/cmdline
// on the appliance). A missing file is an empty command line: a fixture
// tree or a test need not provide one.
func ReadCmdline(path string) (Cmdline, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ParseCmdline(""), nil
	}
	if err != nil {
		return Cmdline{}, fmt.Errorf("read the kernel command line: %w", err)
	}
	return ParseCmdline(string(data)), nil
}
