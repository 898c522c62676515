package main

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hafw/hafw/hwprofiles"
	"github.com/hafw/hafw/image"
	"github.com/hafw/hafw/licensing"
	"github.com/hafw/hafw/licensing/devkey"
)

// runBuild is `hafw build`: flags in, image.Build per profile, a summary out.
func runBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profile := fs.String("profile", "", "appliance model to build (see `hafw profiles`)")
	all := fs.Bool("all", false, "build every profile")
	kernel := fs.String("kernel", "", "kernel: a bzImage `PATH|URL`, or an unpacked Debian kernel package directory (default: newest under CACHE/kernel, from scripts/fetch-kernel.sh)")
	kernelSum := fs.String("kernel-sha256", "", "SHA-256 of --kernel (required for a URL, checked for a file)")
	modules := fs.String("modules", "", "lib/modules/KVER `DIR` for a --kernel bzImage")
	out := fs.String("out", "out", "output `DIR`")
	cache := fs.String("cache", ".cache", "cache `DIR` (downloads, u-root layer, kernels)")
	version := fs.String("version", "0.1.0-dev", "firmware version written to the image")
	cfg := fs.String("config", "", "appliance configuration `FILE` to pre-stage on the data partition")
	var licenses []string
	fs.Func("license", "license `FILE` to pre-stage (repeatable)", func(v string) error {
		licenses = append(licenses, v)
		return nil
	})
	vendorPub := fs.String("vendor-pub", "", "licensing vendor public key `FILE` (default: the public half of --vendor-key, else the DEVELOPMENT key)")
	vendorKey := fs.String("vendor-key", "", "vendor private key `FILE` that signs the update bundle (release builds; default: the DEVELOPMENT key)")
	minUpgrade := fs.String("min-upgrade-from", "", "oldest running `VERSION` the update bundle may upgrade (default: any older)")
	bootloader := fs.String("bootloader", image.DefaultBootloader, "systemd-boot EFI binary")
	cmdline := fs.String("cmdline", "", "extra kernel command line for every boot entry")
	src := fs.String("src", ".", "hafw source tree whose cmd/* go into the image")
	recoveryMedia := fs.Bool("recovery-media", false, "also write <image>.recovery.img: USB/ISO-style media that boots an installer for this firmware (raw-disk profiles)")
	if err := fs.Parse(args); err != nil {
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var profiles []hwprofiles.Profile
	switch {
	case *all && *profile != "":
		return usageError("give --profile or --all, not both")
	case *all:
		profiles = hwprofiles.All()
	case *profile == "":
		return usageError("missing --profile (or --all); known: %s", strings.Join(hwprofiles.Models(), ", "))
	default:
		p, err := hwprofiles.Lookup(*profile)
		if err != nil {
			return usageError("%v", err)
		}
		profiles = []hwprofiles.Profile{p}
	}

	if *recoveryMedia {
		if err := checkRecoveryMedia(profiles); err != nil {
			return err
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	pub, priv, err := vendorKeys(log, *vendorPub, *vendorKey)
	if err != nil {
		return err
	}
	k, origin, err := resolveKernel(ctx, log, stderr, *kernel, *kernelSum, *modules, *cache)
	if err != nil {
		return err
	}
	epoch, err := sourceDateEpoch(*src)
	if err != nil {
		return err
	}
	srcAbs, err := filepath.Abs(*src)
	if err != nil {
		return fmt.Errorf("resolving --src: %w", err)
	}
	for _, p := range profiles {
		start := time.Now()
		m, err := image.Build(ctx, image.Options{
			Profile: p, Kernel: k, KernelOrigin: origin, Version: *version,
			SrcDir: srcAbs, OutDir: *out, CacheDir: *cache, Bootloader: *bootloader,
			VendorPub: pub, VendorKey: priv, MinUpgradeFrom: *minUpgrade, ConfigFile: *cfg, LicenseFiles: licenses,
			Epoch: epoch, Cmdline: *cmdline, Log: log,
		})
		if err != nil {
			return fmt.Errorf("%s: %w", p.Model, err)
		}
		for _, o := range m.Outputs {
			fmt.Fprintf(stdout, "%s  %-40s %6.1f MiB  sha256:%s\n", p.Model, filepath.Join(*out, o.File), float64(o.Size)/(1<<20), o.SHA256)
		}
		fmt.Fprintf(stdout, "%s  kernel %s, %d modules, initramfs %.1f MiB, %s, built in %s\n", p.Model, m.KernelRelease,
			len(m.Modules), float64(m.InitramfsBytes)/(1<<20), strings.Join(m.Commands, " "), time.Since(start).Round(time.Second))
		if *recoveryMedia {
			if err := buildRecoveryMedia(ctx, stdout, p, m, *out, srcAbs); err != nil {
				return err
			}
		}
	}
	return nil
}

// vendorKeys picks the image's vendor public key and the key that signs
// its update bundle: --vendor-key (whose public half is the default
// --vendor-pub), else the development key with a warning. A --vendor-pub
// that is not --vendor-key's public half is refused: the image could not
// verify its own update bundle.
func vendorKeys(log *slog.Logger, pubFile, keyFile string) ([]byte, ed25519.PrivateKey, error) {
	priv := devkey.Private()
	if keyFile != "" {
		var err error
		if priv, err = licensing.ReadPrivateKey(keyFile); err != nil {
			return nil, nil, fmt.Errorf("--vendor-key: %w", err)
		}
	} else {
		log.Warn("signing the update bundle with the DEVELOPMENT vendor key; release builds need --vendor-key")
	}
	pub := licensing.MarshalPublicKey(priv.Public().(ed25519.PublicKey))
	if pubFile == "" {
		if keyFile == "" {
			log.Warn("using the DEVELOPMENT vendor key; release images need --vendor-pub or --vendor-key")
		}
		return pub, priv, nil
	}
	data, err := os.ReadFile(pubFile)
	if err != nil {
		return nil, nil, fmt.Errorf("reading --vendor-pub: %w", err)
	}
	given, err := licensing.ParsePublicKey(data)
	if err != nil {
		return nil, nil, fmt.Errorf("--vendor-pub: %w", err)
	}
	if !given.Equal(priv.Public()) {
		if keyFile == "" {
			return nil, nil, usageError("--vendor-pub is not the development key: give its private half with --vendor-key to sign the update bundle")
		}
		return nil, nil, usageError("--vendor-pub is not the public half of --vendor-key: the image could not verify its own update bundle")
	}
	return data, priv, nil
}

// resolveKernel turns --kernel/--modules into a kernel with its modules,
// downloading a URL into the cache first.
func resolveKernel(ctx context.Context, log *slog.Logger, stderr io.Writer, kernel, sum, modules, cache string) (image.Kernel, string, error) {
	if kernel == "" {
		k, err := image.FindUnpackedKernel(filepath.Join(cache, "kernel"))
		if err != nil {
			return image.Kernel{}, "", fmt.Errorf("%w; or give --kernel", err)
		}
		return k, k.Image, nil
	}
	origin := kernel
	if image.IsURL(kernel) {
		if sum == "" {
			return image.Kernel{}, "", usageError("--kernel URL needs --kernel-sha256")
		}
		f := image.Fetcher{CacheDir: filepath.Join(cache, "downloads"), Log: log}
		if isTerminal(stderr) {
			f.Progress = stderr
		}
		path, err := f.Fetch(ctx, kernel, sum)
		if err != nil {
			return image.Kernel{}, "", err
		}
		kernel = path
	} else if st, err := os.Stat(kernel); err == nil && st.IsDir() {
		k, err := image.UnpackedKernel(kernel)
		return k, origin, err
	} else if sum != "" {
		if err := image.VerifySHA256(kernel, sum); err != nil {
			return image.Kernel{}, "", err
		}
	}
	if modules == "" {
		return image.Kernel{}, "", usageError("--kernel %s needs --modules DIR (lib/modules/KVER)", origin)
	}
	return image.Kernel{Image: kernel, Modules: modules}, origin, nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// sourceDateEpoch is SOURCE_DATE_EPOCH, else the commit time of the source
// tree's HEAD: the same sources give the same timestamps in every output.
func sourceDateEpoch(src string) (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		out, err := exec.Command("git", "-C", src, "log", "-1", "--format=%ct").Output()
		if err != nil {
			return time.Time{}, fmt.Errorf("no SOURCE_DATE_EPOCH and no git commit time in %s: set SOURCE_DATE_EPOCH", src)
		}
		s = strings.TrimSpace(string(out))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 315532800 { // FAT cannot store times before 1980
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q must be seconds since 1970, 1980 or later", s)
	}
	return time.Unix(n, 0).UTC(), nil
}
