package initagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/supervise"
)

// recordingSystem is a fake System for the boot-sequence logic: it records
// every call and fails the ones named in fail.
type recordingSystem struct {
	calls []string
	fail  map[string]error
}

func (r *recordingSystem) do(call string) error {
	r.calls = append(r.calls, call)
	for prefix, err := range r.fail {
		if strings.HasPrefix(call, prefix) {
			return err
		}
	}
	return nil
}

func (r *recordingSystem) Mount(m Mount) error {
	return r.do(fmt.Sprintf("mount %s %s %s", m.FSType, m.Source, m.Target))
}
func (r *recordingSystem) Unmount(target string) error { return r.do("unmount " + target) }
func (r *recordingSystem) LoadModule(path string) error {
	return r.do("module " + filepath.Base(path))
}
func (r *recordingSystem) SetHostname(name string) error { return r.do("hostname " + name) }
func (r *recordingSystem) MakeFS(_ context.Context, device, label string) error {
	return r.do("mkfs " + filepath.Base(device) + " " + label)
}
func (r *recordingSystem) Sync()                 { r.do("sync") }
func (r *recordingSystem) Reboot(bool) error     { return r.do("reboot") }
func (r *recordingSystem) AttachConsole() error  { return r.do("console") }
func (r *recordingSystem) TrapCtrlAltDel() error { return r.do("cad") }

// testAgent lays out an appliance root: etc, data, run, a sysfs/dev tree
// with a blank GPT partition named hafw-data, and a kernel command line.
func testAgent(t *testing.T, cmdline string) (*Agent, *recordingSystem, *strings.Builder) {
	t.Helper()
	root := t.TempDir()
	disks := fakeDisks(t, map[string][]byte{"vda1": extHead("ESP"), "vda2": make([]byte, 4096)}, map[string]string{"vda2": "hafw-data"})
	p := Paths{
		Cmdline: filepath.Join(root, "cmdline"),
		Etc:     filepath.Join(root, "etc"),
		Data:    filepath.Join(root, "data"),
		Run:     filepath.Join(root, "run"),
		Sys:     disks.SysRoot,
		Dev:     disks.DevRoot,
		Bin:     filepath.Join(root, "bin"),

		ResolvConf: filepath.Join(root, "resolv.conf"),
	}
	for _, d := range []string{p.Etc, p.Data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		p.Cmdline:                            cmdline,
		filepath.Join(p.Etc, "modules.list"): "/lib/modules/6.1/kernel/ext4.ko\n# NIC\n/lib/modules/6.1/kernel/e1000.ko\n",
		filepath.Join(p.Etc, "profile"):      "VA-Low\n",
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sys := &recordingSystem{fail: map[string]error{}}
	console := &strings.Builder{}
	return &Agent{
		PID1:    true,
		Paths:   p,
		Sys:     sys,
		Console: console,
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, sys, console
}

func TestBootSequenceFirstBoot(t *testing.T) {
	a, sys, console := testAgent(t, "console=ttyS0 hafw.hostname=mse-lab hafw.eth0=10.210.0.5/24 hafw.dns=10.210.0.2\n")
	b := &bootState{}
	var mounted []string
	a.DataMounted = func(dir string) { mounted = append(mounted, dir) }
	if err := a.runSteps(context.Background(), bootSteps(), b); err != nil {
		t.Fatal(err)
	}
	// The logs move onto the data partition once, after it is mounted.
	if !slices.Equal(mounted, []string{a.Paths.Data}) {
		t.Errorf("DataMounted calls %q, want [%s]", mounted, a.Paths.Data)
	}
	dev := a.Paths.Dev
	want := []string{
		"mount proc proc /proc", "mount sysfs sysfs /sys", "mount devtmpfs devtmpfs /dev",
		"mount devpts devpts /dev/pts", "mount tmpfs tmpfs /dev/shm", "mount tmpfs tmpfs /run", "mount tmpfs tmpfs /tmp",
		"console", "cad",
		"module ext4.ko", "module e1000.ko",
		"mkfs vda2 hafw-data", "mount ext4 " + filepath.Join(dev, "vda2") + " " + a.Paths.Data,
		"hostname mse-lab",
	}
	if !slices.Equal(sys.calls, want) {
		t.Errorf("calls\n got %q\nwant %q", sys.calls, want)
	}
	if !b.configured || b.source != "kernel command line" || b.role != config.RoleNone || b.profile != "VA-Low" {
		t.Errorf("boot state %+v", b)
	}
	stored, err := config.Load(a.Paths.Layout().ConfigFile())
	if err != nil || stored.Hostname != "mse-lab" {
		t.Errorf("first-boot configuration not stored: %+v %v", stored, err)
	}
	resolv, err := os.ReadFile(a.Paths.ResolvConf)
	if err != nil || !strings.Contains(string(resolv), "nameserver 10.210.0.2") {
		t.Errorf("resolv.conf %q, %v", resolv, err)
	}
	// No vendor key in etc: reported, not fatal; the appliance is not activated.
	if !strings.Contains(console.String(), "warning: license ignored: no license can be verified: vendor key") || b.activated {
		t.Errorf("console:\n%s", console)
	}
}

func TestBootSequenceFailures(t *testing.T) {
	// A module that does not load is a warning, and the next one still loads.
	a, sys, console := testAgent(t, "")
	sys.fail["module ext4"] = errors.New("exec format error")
	b := &bootState{}
	if err := a.runSteps(context.Background(), bootSteps(), b); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(sys.calls, "module e1000.ko") || !strings.Contains(console.String(), "warning: load kernel modules: exec format error") {
		t.Errorf("calls %q console %q", sys.calls, console)
	}
	if b.configured || b.cfg.Role != config.RoleNone || b.source != "default (unconfigured)" {
		t.Errorf("unconfigured boot state %+v", b)
	}

	// /proc not mountable is fatal and names the step.
	a, sys, _ = testAgent(t, "")
	sys.fail["mount proc"] = errors.New("permission denied")
	err := a.runSteps(context.Background(), bootSteps(), &bootState{})
	if err == nil || !strings.Contains(err.Error(), "mount pseudo filesystems: permission denied") {
		t.Errorf("fatal step error %v", err)
	}
	if slices.Contains(sys.calls, "module ext4.ko") {
		t.Error("boot went on after a fatal step")
	}

	// A stored configuration that does not validate is reported and not
	// overwritten by first-boot keys.
	a, _, console = testAgent(t, "hafw.hostname=from-cmdline\n")
	path := a.Paths.Layout().ConfigFile()
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte(`{"hostname":"-bad-"}`), 0o600)
	b = &bootState{}
	a.runSteps(context.Background(), bootSteps(), b)
	if data, _ := os.ReadFile(path); string(data) != `{"hostname":"-bad-"}` {
		t.Errorf("bad stored configuration overwritten: %s", data)
	}
	if !strings.Contains(console.String(), "stored configuration unusable") || b.configured {
		t.Errorf("console %q, configured %v", console, b.configured)
	}
}

func TestRecoveryAndActivationDecideRole(t *testing.T) {
	a, _, console := testAgent(t, "hafw.recovery hafw.role=primary hafw.eth0=10.210.0.5/24 hafw.vip=10.210.0.9/24\n")
	b := &bootState{}
	a.runSteps(context.Background(), bootSteps(), b)
	if b.role != config.RoleNone || !b.recovery || b.cfg.Role != config.RolePrimary {
		t.Errorf("recovery boot: role %s recovery %v cfg.Role %s", b.role, b.recovery, b.cfg.Role)
	}
	if !strings.Contains(console.String(), "hafw-recovery: recovery mode requested by kernel command line hafw.recovery") {
		t.Errorf("console:\n%s", console)
	}
	a, _, console = testAgent(t, "hafw.role=primary hafw.eth0=10.210.0.5/24 hafw.vip=10.210.0.9/24\n")
	b = &bootState{}
	a.runSteps(context.Background(), bootSteps(), b)
	if b.role != config.RoleNone || !strings.Contains(console.String(), "is not activated") {
		t.Errorf("unactivated VA took role %s; console:\n%s", b.role, console)
	}
}

// TestShutdownReleasesTheDataPartitionFirst: whatever was opened on the
// data partition is released before it is unmounted.
func TestShutdownReleasesTheDataPartitionFirst(t *testing.T) {
	a, sys, console := testAgent(t, "console=ttyS0\n")
	a.DataUnmounting = func() { sys.calls = append(sys.calls, "release logs") }
	r := &runtime{a: a, b: &bootState{dataMounted: true}, sup: &supervise.Supervisor{Log: a.Log}}
	r.shutdown(nil)
	release, unmount := slices.Index(sys.calls, "release logs"), slices.Index(sys.calls, "unmount "+a.Paths.Data)
	if release < 0 || unmount < 0 || release > unmount {
		t.Errorf("calls %q: want the logs released before the unmount", sys.calls)
	}
	if strings.Contains(console.String(), "warning") {
		t.Errorf("console: %q", console)
	}
}
