package image

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hwprofiles"
	"github.com/hafw/hafw/internal/testenv"
	"github.com/hafw/hafw/licensing/devkey"
)

// Builds cost tens of seconds of scarce CPU: each distinct build runs once
// per test binary and its outputs are shared by every test that needs
// them, under scratch (removed when the tests end).
var (
	scratch  string
	buildsMu sync.Mutex
	builds   = map[string]*testBuild{}
)

type testBuild struct {
	once sync.Once
	dir  string
	m    *Manifest
	err  error
}

func TestMain(m *testing.M) {
	var err error
	scratch, err = os.MkdirTemp("", "hafw-image-test-")
	if err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(scratch)
	os.Exit(code)
}

// testEpoch is SOURCE_DATE_EPOCH of every test build.
var testEpoch = time.Unix(1700000000, 0).UTC()

// labConfig is the pre-staged configuration of the boot tests: static
// addresses, no HA role (the boot test proves the image, not HA).
func labConfig(t testing.TB, hostname string, eth0 string) string {
	t.Helper()
	a := config.Default()
	a.Hostname = hostname
	a.Role = config.RoleNone
	a.Eth0 = config.Interface{Enabled: true, Address: netip.MustParsePrefix(eth0)}
	data, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "appliance.json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// testOptions are the inputs of a test build of profile; the kernel is the
// Debian kernel `make test` unpacks.
func testOptions(t testing.TB, model string) Options {
	t.Helper()
	testenv.RequireCommand(t, "mformat", "mcopy", "mmd", "mkfs.ext4", "go")
	if _, err := os.Stat(DefaultBootloader); err != nil {
		testenv.Unavailable(t, "needs systemd-boot (Debian package systemd-boot-efi)")
	}
	k, err := FindUnpackedKernel(filepath.Join("..", ".cache", "kernel"))
	if err != nil {
		testenv.Unavailable(t, "no unpacked Debian kernel (make test runs scripts/fetch-kernel.sh): "+err.Error())
	}
	p, err := hwprofiles.Lookup(model)
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		Profile: p, Kernel: k, Version: "1.0.0-test", SrcDir: "..",
		CacheDir: filepath.Join("..", ".cache"), VendorPub: devkey.PublicKeyFile(), VendorKey: devkey.Private(),
		Epoch: testEpoch, Log: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	}
}

// build runs the build named key once per test binary and returns its
// output directory and manifest.
func build(t testing.TB, key string, o Options) (string, *Manifest) {
	t.Helper()
	buildsMu.Lock()
	b := builds[key]
	if b == nil {
		b = &testBuild{dir: filepath.Join(scratch, key)}
		builds[key] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() {
		o.OutDir = b.dir
		start := time.Now()
		b.m, b.err = Build(context.Background(), o)
		t.Logf("build %s took %s", key, time.Since(start).Round(time.Millisecond))
	})
	if b.err != nil {
		t.Fatalf("build %s: %v", key, b.err)
	}
	return b.dir, b.m
}

// rawBuild and ovaBuild are the two standard test images, with the
// pre-staged lab configuration.
func rawBuild(t testing.TB) (string, *Manifest) {
	o := testOptions(t, "3355")
	o.ConfigFile = labConfig(t, "lab3355", "10.210.0.10/24")
	return build(t, "3355", o)
}

func ovaBuild(t testing.TB) (string, *Manifest) {
	o := testOptions(t, "VA-Standard")
	o.ConfigFile = labConfig(t, "labva", "10.211.0.10/24")
	o.KeepRawDisk = true
	return build(t, "VA-Standard", o)
}

func output(t testing.TB, dir string, m *Manifest, suffix string) string {
	t.Helper()
	for _, o := range m.Outputs {
		if filepath.Ext(o.File) == suffix {
			return filepath.Join(dir, o.File)
		}
	}
	t.Fatalf("no %s output in %+v", suffix, m.Outputs)
	return ""
}

func readManifest(t testing.TB, path string) *Manifest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("manifest %s: %v", path, err)
	}
	return &m
}

// testWriter sends the build's log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}
