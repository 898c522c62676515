package image

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/hafw/hafw/internal/testenv"
)

// TestHostToolFiles: mke2fs comes with the libraries the host's loader
// reports, the loader itself, as regular files in a stable order.
func TestHostToolFiles(t *testing.T) {
	testenv.RequireCommand(t, "mke2fs")
	files, err := hostToolFiles([]string{"mke2fs"})
	if err != nil {
		t.Fatal(err)
	}
	var dsts []string
	for _, f := range files {
		dsts = append(dsts, f.Dst)
		st, err := os.Lstat(f.Src)
		if err != nil || !st.Mode().IsRegular() {
			t.Errorf("%s: source %s is not a regular file (%v)", f.Dst, f.Src, err)
		}
	}
	if !slices.IsSorted(dsts) {
		t.Errorf("not sorted by destination: %v", dsts)
	}
	for _, want := range []string{"sbin/mke2fs", "libext2fs.so.2", "libc.so.6", "ld-linux-x86-64.so.2"} {
		if !slices.ContainsFunc(dsts, func(d string) bool { return d == want || strings.HasSuffix(d, "/"+want) }) {
			t.Errorf("no %s in %v", want, dsts)
		}
	}
	if _, err := hostToolFiles([]string{"hafw-no-such-tool"}); err == nil || !strings.Contains(err.Error(), "hafw-no-such-tool") {
		t.Errorf("missing tool: error %v", err)
	}
}
