package initagent

import (
	"fmt"
	"strings"
)

// ParseModulesList reads /etc/hafw/modules.list: absolute paths of .ko
// files in load order (dependencies first), one per line; blank lines and
// # comments are skipped. A relative path is an error: the image builder
// wrote a wrong list and guessing a directory would hide it.
func ParseModulesList(data string) ([]string, error) {
	var out []string
	for i, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.HasPrefix(line, "/") {
			return nil, fmt.Errorf("modules.list line %d: %q is not an absolute path", i+1, line)
		}
		out = append(out, line)
	}
	return out, nil
}
