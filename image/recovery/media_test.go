package recovery

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/hafw/hafw/hwprofiles"
	"github.com/hafw/hafw/image"
	"github.com/hafw/hafw/internal/testenv"
	"github.com/hafw/hafw/internal/vmtest"
	"github.com/hafw/hafw/licensing/devkey"
)

// bootTimeout is generous: OVMF under TCG on a shared, busy machine.
const bootTimeout = 300 * time.Second

// TestRecoveryMediaInstallsOntoBlankDisk builds a 3355 firmware and its
// recovery media, boots the media with a blank second disk, answers the
// installer on the serial console, and then boots the second disk alone to
// the init agent's ready line.
func TestRecoveryMediaInstallsOntoBlankDisk(t *testing.T) {
	testenv.Short(t, "firmware build and two QEMU boots")
	vmtest.Require(t, true)
	testenv.RequireCommand(t, "mformat", "mcopy", "mmd", "mkfs.ext4", "go", "cp")
	if _, err := os.Stat(image.DefaultBootloader); err != nil {
		testenv.Unavailable(t, "needs systemd-boot (Debian package systemd-boot-efi)")
	}
	k, err := image.FindUnpackedKernel(filepath.Join("..", "..", ".cache", "kernel"))
	if err != nil {
		testenv.Unavailable(t, "no unpacked Debian kernel (make test runs scripts/fetch-kernel.sh): "+err.Error())
	}
	p, err := hwprofiles.Lookup("3355")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	m, err := image.Build(context.Background(), image.Options{
		Profile: p, Kernel: k, Version: "1.0.0-media", SrcDir: filepath.Join("..", ".."), OutDir: out,
		CacheDir: filepath.Join("..", "..", ".cache"), VendorPub: devkey.PublicKeyFile(), VendorKey: devkey.Private(),
		Epoch: time.Unix(1700000000, 0).UTC(), Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	firmware := filepath.Join(out, m.Outputs[0].File)
	media := filepath.Join(out, "recovery-media.img")
	if err := BuildMedia(context.Background(), MediaOptions{Firmware: firmware, SrcDir: filepath.Join("..", ".."), Out: media}); err != nil {
		t.Fatal(err)
	}
	blank := filepath.Join(t.TempDir(), "internal.img")
	if err := os.WriteFile(blank, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(blank, 2<<30); err != nil {
		t.Fatal(err)
	}

	vm := vmtest.Start(t, vmtest.Options{EFI: true, MemoryMB: 1024,
		Disks: []vmtest.Disk{{Path: media}, {Path: blank, Writable: true}},
	})
	vm.WaitFor(regexp.MustCompile(`Install onto which disk\? \[vdb\]: `), bootTimeout)
	vm.Type("\n")
	vm.WaitFor(regexp.MustCompile(`Flash the firmware onto /dev/vdb\? ALL DATA ON IT WILL BE LOST\. Type yes to continue: `), time.Minute)
	vm.Type("yes\n")
	// Writing and reading back 1.3 GB through an emulated disk under TCG
	// takes minutes on a loaded machine.
	vm.WaitFor(regexp.MustCompile(`hafw-installer: installed onto /dev/vdb: \d+ bytes written and verified`), 12*time.Minute)
	vm.WaitFor(regexp.MustCompile(`hafw-installer: rebooting`), time.Minute)
	if err := vm.WaitExit(time.Minute); err != nil {
		t.Fatalf("the installer did not reboot (QEMU runs with -no-reboot): %v\n%s", err, vm.Tail(20))
	}

	vm2 := vmtest.Start(t, vmtest.Options{EFI: true,
		Disks: []vmtest.Disk{{Path: blank}},
		NICs:  []vmtest.NIC{{Model: "virtio-net-pci"}, {Model: "virtio-net-pci"}},
	})
	got := vm2.WaitFor(regexp.MustCompile(`hafw-ready: host=\S+ profile=3355 role=none eth0=\S+ eth1=\S+ license=\S+\r?\n`), bootTimeout)
	t.Logf("installed disk: %s", got[0])
}
