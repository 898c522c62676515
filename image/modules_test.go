package image

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hafw/hafw/internal/testenv"
)

func TestParseModinfo(t *testing.T) {
	sec := []byte("license=GPL\x00depends=virtio,virtio_ring,net-failover\x00intree=Y\x00\x00")
	got, err := ParseModinfo(sec)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"virtio", "virtio_ring", "net_failover"}
	if !slices.Equal(got, want) {
		t.Fatalf("depends = %v, want %v", got, want)
	}
	if _, err := ParseModinfo([]byte("depends=../../etc/passwd\x00")); err == nil {
		t.Fatal("a path in depends= was accepted")
	}
	if got, _ := ParseModinfo([]byte("depends=\x00")); len(got) != 0 {
		t.Fatalf("empty depends= gave %v", got)
	}
}

func FuzzParseModinfo(f *testing.F) {
	f.Add([]byte("depends=virtio,virtio_ring\x00"))
	f.Add([]byte("depends=\x00license=GPL"))
	f.Fuzz(func(t *testing.T, data []byte) {
		deps, err := ParseModinfo(data)
		if err != nil {
			return
		}
		for _, d := range deps {
			if d == "" || strings.ContainsAny(d, "/-\x00") {
				t.Fatalf("bad dependency name %q from %q", d, data)
			}
		}
	})
}

// TestResolveDebianKernel resolves real modules of the Debian kernel that
// `make test` unpacks, so dependency order is checked against real data.
func TestResolveDebianKernel(t *testing.T) {
	dir := testModulesDir(t)
	tree, err := OpenModuleTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	order, err := tree.Resolve([]string{"virtio_net", "ext4", "e1000"})
	if err != nil {
		t.Fatal(err)
	}
	idx := func(name string) int {
		return slices.IndexFunc(order, func(p string) bool { return ModuleName(p) == name })
	}
	for _, pair := range [][2]string{{"virtio", "virtio_net"}, {"net_failover", "virtio_net"}, {"failover", "net_failover"}, {"jbd2", "ext4"}, {"mbcache", "ext4"}} {
		dep, mod := idx(pair[0]), idx(pair[1])
		if dep < 0 || mod < 0 || dep > mod {
			t.Errorf("%s (at %d) must come before %s (at %d) in %v", pair[0], dep, pair[1], mod, order)
		}
	}
	if _, err := tree.Resolve([]string{"no_such_driver"}); err == nil || !strings.Contains(err.Error(), "no_such_driver") {
		t.Fatalf("missing module: err = %v", err)
	}
}

// testModulesDir finds lib/modules/KVER of the kernel unpacked by
// scripts/fetch-kernel.sh (make test runs it first).
func testModulesDir(t testing.TB) string {
	t.Helper()
	k, err := FindUnpackedKernel(filepath.Join("..", ".cache", "kernel"))
	if err != nil {
		testenv.Unavailable(t, "no unpacked Debian kernel (run scripts/fetch-kernel.sh): "+err.Error())
	}
	if _, err := os.Stat(k.Modules); err != nil {
		t.Fatal(err)
	}
	return k.Modules
}
