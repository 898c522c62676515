package scenarios

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/hafw/hafw/image"
	"github.com/hafw/hafw/internal/benchkit"
	"github.com/hafw/hafw/internal/vmtest"
)

// imageProfile is the image of the build comparison: the VA-Standard
// OVA, the first image `make image` builds.
const imageProfile = "VA-Standard"

// Image is the image build figure: u-root's own CLI making a bare initramfs of
// the same core command set (image.CoreCommands) against our full
// `hafw build` of one OVA, warm (caches filled by an untimed first run) and
// cold (empty Go build cache for both, empty image cache for hafw); the
// sizes; and the OVA's boot to the ready line in QEMU.
func Image(ctx context.Context, o Options) ([]benchkit.Comparison, error) {
	hafw := filepath.Join(o.WorkDir, "hafw")
	if err := o.run(ctx, o.SrcDir, nil, "go", "build", "-buildvcs=false", "-o", hafw, "./cmd/hafw"); err != nil {
		return nil, err
	}
	uroot, err := o.urootCLI(ctx)
	if err != nil {
		return nil, err
	}
	kernelDir := o.KernelDir
	if _, err := os.Stat(kernelDir); err != nil {
		return nil, fmt.Errorf("no unpacked kernel (run `make kernel`): %w", err)
	}
	pkgs := make([]string, len(image.CoreCommands))
	for i, c := range image.CoreCommands {
		pkgs[i] = "github.com/u-root/u-root/cmds/core/" + c
	}
	cpio := filepath.Join(o.WorkDir, "uroot.cpio")
	urootBuild := func(env []string) error {
		args := append([]string{"-o", cpio, "-initcmd=", "-uinitcmd=", "-defaultsh=gosh"}, pkgs...)
		return o.run(ctx, o.SrcDir, env, uroot, args...)
	}
	hafwBuild := func(env []string, cache, out string) error {
		env = append(env, fmt.Sprintf("SOURCE_DATE_EPOCH=%d", o.SourceDateEpoch))
		return o.run(ctx, o.SrcDir, env, hafw, "build", "--profile", imageProfile, "--out", out, "--cache", cache, "--src", o.SrcDir)
	}
	timed := func(f func() error) (float64, error) {
		start := time.Now()
		err := f()
		return time.Since(start).Seconds(), err
	}

	// Warm: one untimed run of each fills the caches.
	warmCache := filepath.Join(o.CacheDir, "image")
	if err := linkKernel(warmCache, kernelDir); err != nil {
		return nil, err
	}
	if err := urootBuild(nil); err != nil {
		return nil, err
	}
	out := filepath.Join(o.WorkDir, "out")
	if err := hafwBuild(nil, warmCache, out); err != nil {
		return nil, err
	}
	n := o.pick(1, 3)
	var warmOurs, warmPeer []float64
	for range n {
		s, err := timed(func() error { return urootBuild(nil) })
		if err != nil {
			return nil, err
		}
		warmPeer = append(warmPeer, s)
		s, err = timed(func() error { return hafwBuild(nil, warmCache, out) })
		if err != nil {
			return nil, err
		}
		warmOurs = append(warmOurs, s)
	}
	warm := benchkit.Comparison{Scenario: "image", Metric: "warm build: full " + imageProfile + " OVA vs bare initramfs",
		Ours:          benchkit.Series{Subject: "hafw build", Unit: "s", Samples: warmOurs},
		Peer:          &benchkit.Series{Subject: "u-root CLI", Unit: "s", Samples: warmPeer},
		LowerIsBetter: true,
		Note:          fmt.Sprintf("same %d u-root core commands; target ratio <= 1.5", len(image.CoreCommands))}
	comps := []benchkit.Comparison{warm}

	if !o.Quick {
		// Cold: fresh Go build caches for both, a fresh image cache for
		// hafw (the u-root core layer is rebuilt); the module cache stays,
		// nothing is downloaded in either timing.
		var coldOurs, coldPeer []float64
		s, err := timed(func() error { return urootBuild(o.freshGoCache("gocache-uroot")) })
		if err != nil {
			return comps, err
		}
		coldPeer = append(coldPeer, s)
		coldCache := filepath.Join(o.WorkDir, "cold-cache")
		if err := linkKernel(coldCache, kernelDir); err != nil {
			return comps, err
		}
		s, err = timed(func() error {
			return hafwBuild(o.freshGoCache("gocache-hafw"), coldCache, filepath.Join(o.WorkDir, "cold-out"))
		})
		if err != nil {
			return comps, err
		}
		coldOurs = append(coldOurs, s)
		comps = append(comps, benchkit.Comparison{Scenario: "image", Metric: "cold build: full " + imageProfile + " OVA vs bare initramfs",
			Ours:          benchkit.Series{Subject: "hafw build", Unit: "s", Samples: coldOurs},
			Peer:          &benchkit.Series{Subject: "u-root CLI", Unit: "s", Samples: coldPeer},
			LowerIsBetter: true, Note: "empty GOCACHE for both, empty image cache for hafw; one run"})
	}

	m, err := readManifest(out)
	if err != nil {
		return comps, err
	}
	urootZ, err := zstdSize(cpio)
	if err != nil {
		return comps, err
	}
	comps = append(comps, benchkit.Comparison{Scenario: "image", Metric: "initramfs size, zstd",
		Ours:          benchkit.Series{Subject: "hafw " + imageProfile, Unit: "MiB", Samples: []float64{mib(m.InitramfsBytes)}},
		Peer:          &benchkit.Series{Subject: "u-root bare", Unit: "MiB", Samples: []float64{mib(urootZ)}},
		LowerIsBetter: true,
		Note:          "ours adds the appliance binaries and kernel modules; target < 20 MB"})
	var ova string
	for _, f := range m.Outputs {
		if strings.HasSuffix(f.File, ".ova") {
			ova = filepath.Join(out, f.File)
			comps = append(comps, benchkit.Comparison{Scenario: "image", Metric: "OVA size",
				Ours: benchkit.Series{Subject: "hafw " + imageProfile, Unit: "MiB", Samples: []float64{mib(f.Size)}}, LowerIsBetter: true})
		}
	}
	if ova == "" {
		return comps, errors.New("the build manifest lists no .ova")
	}
	boots, err := o.bootTimes(ctx, ova, o.pick(1, 2))
	if err != nil {
		return comps, err
	}
	comps = append(comps, benchkit.Comparison{Scenario: "image", Metric: "QEMU boot to hafw-ready (TCG, OVMF)",
		Ours: benchkit.Series{Subject: "hafw " + imageProfile, Unit: "s", Samples: boots}, LowerIsBetter: true,
		Note: "QEMU start to the ready line on the serial console; software emulation, 1 vCPU"})
	return comps, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// run runs a command in dir with extra environment, its output going to
// the run's log.
func (o Options) run(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = o.Log, o.Log
	fmt.Fprintf(o.Log, "+ %s %s %s\n", strings.Join(env, " "), name, strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args[:min(len(args), 3)], " "), err)
	}
	return nil
}

// freshGoCache returns the environment for an empty Go build cache.
func (o Options) freshGoCache(name string) []string {
	return []string{"GOCACHE=" + filepath.Join(o.WorkDir, name)}
}

// urootCLI installs u-root's CLI at the version our go.mod pins (from the
// Go module proxy) into the cache, once.
func (o Options) urootCLI(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Version}}", "github.com/u-root/u-root")
	cmd.Dir = o.SrcDir
	v, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("finding the pinned u-root version: %w", err)
	}
	ver := strings.TrimSpace(string(v))
	bin := filepath.Join(o.CacheDir, "uroot-"+ver)
	path := filepath.Join(bin, "u-root")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := o.run(ctx, o.SrcDir, []string{"GOBIN=" + bin}, "go", "install", "github.com/u-root/u-root@"+ver); err != nil {
		return "", err
	}
	return path, nil
}

// linkKernel makes cache/kernel point at the unpacked kernel, so that a
// fresh image cache still finds it without a download.
func linkKernel(cache, kernelDir string) error {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return fmt.Errorf("creating image cache: %w", err)
	}
	link := filepath.Join(cache, "kernel")
	if _, err := os.Lstat(link); err == nil {
		return nil
	}
	if err := os.Symlink(kernelDir, link); err != nil {
		return fmt.Errorf("linking the kernel into the image cache: %w", err)
	}
	return nil
}

// readManifest reads the one build manifest in dir.
func readManifest(dir string) (*image.Manifest, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*"+imageProfile+"*.manifest.json"))
	if err != nil || len(files) != 1 {
		return nil, fmt.Errorf("expected one %s manifest in %s, found %v (%v)", imageProfile, dir, files, err)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		return nil, fmt.Errorf("reading build manifest: %w", err)
	}
	var m image.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decoding build manifest %s: %w", files[0], err)
	}
	return &m, nil
}

// zstdSize is the size of path compressed the way our builder compresses
// the initramfs (zstd, best level, 64 MiB window), so the initramfs sizes
// compare like with like.
func zstdSize(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	var n countWriter
	w, err := zstd.NewWriter(&n, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithWindowSize(64<<20), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return 0, fmt.Errorf("zstd writer: %w", err)
	}
	if _, err := io.Copy(w, f); err != nil {
		return 0, fmt.Errorf("compressing %s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("compressing %s: %w", path, err)
	}
	return int64(n), nil
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// readyLine is the init agent's ready line on the console.
var readyLine = regexp.MustCompile(`hafw-ready: host=\S+ profile=\S+`)

// bootTimeout is generous: OVMF under TCG on a shared, busy machine.
const bootTimeout = 300 * time.Second

// bootTimes boots the OVA's disk n times in QEMU and returns the seconds
// from QEMU's start to the ready line.
func (o Options) bootTimes(ctx context.Context, ova string, n int) ([]float64, error) {
	vmdk, err := extractVMDK(ova, o.WorkDir)
	if err != nil {
		return nil, err
	}
	var times []float64
	for i := range n {
		dir, err := os.MkdirTemp(o.WorkDir, "vm-")
		if err != nil {
			return nil, fmt.Errorf("creating VM dir: %w", err)
		}
		args, err := vmtest.Options{EFI: true, Disks: []vmtest.Disk{{Path: vmdk, Format: "vmdk"}},
			NICs: []vmtest.NIC{{Model: "e1000"}, {Model: "e1000"}}}.Args(dir)
		if err != nil {
			return nil, err
		}
		s, err := bootOnce(ctx, args)
		if err != nil {
			return nil, fmt.Errorf("boot %d: %w", i+1, err)
		}
		times = append(times, s)
	}
	return times, nil
}

// bootOnce starts QEMU, waits for the ready line and kills QEMU.
func bootOnce(ctx context.Context, args []string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	cmd := exec.Command("qemu-system-x86_64", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting qemu: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); pw.Close() }()
	found := make(chan float64, 1)
	var console strings.Builder
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := pr.Read(buf)
			console.Write(buf[:k])
			if readyLine.MatchString(console.String()) {
				found <- time.Since(start).Seconds()
				io.Copy(io.Discard, pr)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}()
	select {
	case s := <-found:
		return s, nil
	case err := <-exited:
		exited <- err
		return 0, fmt.Errorf("qemu exited before the ready line: %v", err)
	case <-ctx.Done():
		return 0, fmt.Errorf("no ready line within %v: %w", bootTimeout, ctx.Err())
	}
}

// extractVMDK unpacks the OVA's disk into dir.
func extractVMDK(ova, dir string) (string, error) {
	f, err := os.Open(ova)
	if err != nil {
		return "", fmt.Errorf("opening OVA: %w", err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			return "", fmt.Errorf("no .vmdk in %s: %w", ova, err)
		}
		if !strings.HasSuffix(h.Name, ".vmdk") {
			continue
		}
		path := filepath.Join(dir, filepath.Base(h.Name))
		out, err := os.Create(path)
		if err != nil {
			return "", fmt.Errorf("extracting VMDK: %w", err)
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fmt.Errorf("extracting VMDK: %w", err)
		}
		return path, nil
	}
}
