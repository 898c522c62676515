package demo

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hafw/hafw/image"
	"github.com/hafw/hafw/internal/testenv"
	"github.com/hafw/hafw/internal/vmtest"
)

// TestDemo is the whole chain, nothing simulated: the image built from this
// tree boots twice in QEMU, pairs, survives a kill -9 of the primary's VM
// with a client writing through the VIP, fails back, is restored from its
// secondary after losing its data partition (hafw.recovery) and fails back
// again, loses no acknowledged write; a VA licensed for another machine takes no HA role. On failure
// the error carries every VM's console tail.
func TestDemo(t *testing.T) {
	testenv.Short(t, "QEMU end-to-end demo")
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "ip", "mcopy", "debugfs", "sfdisk")
	vmtest.Require(t, false)
	src, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := image.FindUnpackedKernel(filepath.Join(src, ".cache", "kernel")); err != nil {
		testenv.Unavailable(t, "no unpacked Debian kernel (make kernel): "+err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	// make test runs other QEMU tests beside this one on two cores: a
	// longer failover wait than the demo's keeps a starved guest's late
	// heartbeats from failing over a living primary.
	const wait = 8 * time.Second
	sum, err := Run(ctx, Options{SrcDir: src, WorkDir: t.TempDir(), Out: t.Output(), FailoverWait: wait,
		Log: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})), BootTimeout: 8 * time.Minute})
	sum.Print(t.Output())
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Passed() || len(sum.Steps) != 9 {
		t.Fatalf("steps: %+v", sum.Steps)
	}
	if sum.Acked < 10 || len(sum.Lost) != 0 {
		t.Errorf("writes: %d acknowledged, lost %v", sum.Acked, sum.Lost)
	}
	// The failover wait bounds the outage from below; far more than a
	// minute means the client was served by luck, not by the failover.
	if sum.Outage < wait || sum.Outage > time.Minute {
		t.Errorf("client outage %s, want between the failover wait %s and a minute", sum.Outage, wait)
	}
	if sum.RecoveryOutage < wait || sum.RecoveryOutage > time.Minute {
		t.Errorf("client outage before the recovery boot %s, want between the failover wait %s and a minute", sum.RecoveryOutage, wait)
	}
	if sum.Namespace == "" {
		t.Fatal("summary names no namespace")
	}
	if _, err := os.Stat(filepath.Join("/run/netns", sum.Namespace)); !os.IsNotExist(err) {
		t.Errorf("namespace %s left behind (%v)", sum.Namespace, err)
	}
}
