package image

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/u-root/u-root/pkg/ldd"
)

// HostTools are programs of the build host (Debian's, dynamically linked)
// that the init agent needs on the appliance and that have no Go
// equivalent: mke2fs formats a blank data partition at first boot. They go
// to /sbin in the initramfs, with the shared libraries and the dynamic
// loader they need.
var HostTools = []string{"mke2fs"}

// hostFile is one file copied from the build host into the initramfs.
type hostFile struct {
	Src string // on the build host, symlinks resolved
	Dst string // in the initramfs, relative to its root
}

// hostToolFiles finds tools on the build host and asks the dynamic loader
// (u-root's ldd) which libraries they load. Libraries keep the path the
// loader found them at, where the appliance's loader looks too (no
// ld.so.cache needed); symlinks are resolved so the archive holds regular
// files. The result is sorted by destination, for reproducible archives.
func hostToolFiles(tools []string) ([]hostFile, error) {
	var files []hostFile
	var bins []string
	for _, t := range tools {
		p, err := exec.LookPath(t)
		if err != nil {
			return nil, fmt.Errorf("finding %s on the build host (Debian package e2fsprogs): %w", t, err)
		}
		bins = append(bins, p)
		files = append(files, hostFile{Src: p, Dst: "sbin/" + t})
	}
	libs, err := ldd.List(bins...)
	if err != nil {
		return nil, fmt.Errorf("listing the shared libraries of %s: %w", strings.Join(bins, ", "), err)
	}
	seen := map[string]bool{}
	for _, l := range libs {
		dst := strings.TrimPrefix(filepath.Clean(l), "/")
		if seen[dst] {
			continue
		}
		seen[dst] = true
		files = append(files, hostFile{Src: l, Dst: dst})
	}
	for i := range files {
		if files[i].Src, err = filepath.EvalSymlinks(files[i].Src); err != nil {
			return nil, fmt.Errorf("resolving %s: %w", files[i].Src, err)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Dst < files[j].Dst })
	return files, nil
}
