package flash

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Mount is one line of /proc/self/mountinfo that matters here.
type Mount struct {
	Dev    string // "major:minor"
	Point  string
	Source string
}

// ParseMountinfo reads /proc/self/mountinfo (proc(5)): field 3 is the
// device number, field 5 the mount point (octal escapes kept as they are
// only shown to the user), and the source follows the " - fstype " marker.
func ParseMountinfo(r io.Reader) ([]Mount, error) {
	var out []Mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		pre, post, ok := strings.Cut(line, " - ")
		f := strings.Fields(pre)
		if !ok || len(f) < 5 || !strings.Contains(f[2], ":") {
			return nil, fmt.Errorf("mountinfo line %d: malformed %q", n, line)
		}
		m := Mount{Dev: f[2], Point: f[4]}
		if pf := strings.Fields(post); len(pf) >= 2 {
			m.Source = pf[1]
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	return out, nil
}
