package webui_test

import (
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/netnstest"
)

// TestConsoleRestoresFromTheSecondary is the seed's "restore the
// configuration from the Secondary" in the browser: a paired primary loses
// its state and boots in recovery mode; on its console's Recovery page a
// Restore without the secondary's certificate shows the one the secondary
// presents, the operator confirms it, the page says Please Wait while the
// secondary pushes the pairing back, and the primary comes back paired.
func TestConsoleRestoresFromTheSecondary(t *testing.T) {
	lan := newConsoleLAN(t, "browser test against hmd in network namespaces")
	primary := lan.start(t, "mse1", 2, config.RolePrimary, "3310", 10)
	secondary := lan.start(t, "mse2", 3, config.RoleSecondary, "3355", 0)
	pairByAPI(t, primary, secondary, time.Second)
	sst, err := secondary.status()
	if err != nil {
		t.Fatal(err)
	}

	// The primary loses its state (pairing, certificate) and boots in
	// recovery mode.
	if err := primary.proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-primary.proc.Exited()
	primary.start(t, "--state-dir", filepath.Join(t.TempDir(), "hmd"), "--recovery")
	pst, err := primary.status()
	if err != nil || pst.RoleReason != "recovery" || len(pst.Peers) != 0 {
		t.Fatalf("the primary after the loss: %+v, %v", pst, err)
	}

	b := newBrowser(t, lan.gw)
	p := "https://" + primary.hip.String() + ":8443"
	b.login(p + "/ui/recovery")
	b.do("open Recovery", chromedp.WaitVisible(chromedp.ID("recovery-form")))
	if got := b.text(`nav a[aria-current="page"]`); got != "Recovery" {
		t.Errorf("the navigation marks %q", got)
	}
	b.do("restore without the secondary's certificate",
		chromedp.SendKeys(chromedp.ID("secondary_ip"), secondary.hip.String()),
		chromedp.SendKeys(chromedp.ID("secondary_password"), browserPassword),
		chromedp.SendKeys(chromedp.ID("primary_password"), browserPassword),
		chromedp.Click(chromedp.ID("restore")), chromedp.WaitVisible(chromedp.ID("secondary_fingerprint-error")))
	if fp, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID("secondary_fingerprint"))); err != nil || fp != sst.CertFingerprint {
		t.Fatalf("fingerprint filled in %q (%v), the secondary's own is %q", fp, err, sst.CertFingerprint)
	}
	b.shot("21-recovery-confirm-fingerprint")
	// The progress shows only while a Restore runs.
	if shown, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`getComputedStyle(document.getElementById("restore-progress")).display !== "none"`)); err != nil || shown {
		t.Errorf("the restore's progress bar is shown before Restore (%v)", err)
	}

	b.keepTexts("#restore-wait")
	b.do("restore", chromedp.SendKeys(chromedp.ID("secondary_password"), browserPassword),
		chromedp.SendKeys(chromedp.ID("primary_password"), browserPassword),
		chromedp.Click(chromedp.ID("restore")), chromedp.WaitVisible(chromedp.ID("restored")))
	if !b.asked("Are you sure you want to restore this appliance's configuration from the secondary?") {
		t.Error("the restore was not confirmed")
	}
	if kept := b.kept(); !slices.ContainsFunc(kept, func(s string) bool { return strings.HasPrefix(s, "Please Wait.") }) {
		t.Errorf("the page did not say Please Wait while the restore ran: %q", kept)
	}
	if got := b.text("#restored"); !strings.Contains(got, "Configuration restored to the primary "+primary.hip.String()) {
		t.Errorf("result %q", got)
	}
	b.shot("22-recovery-restored")
	netnstest.Eventually(t, 20*time.Second, "the primary to run paired again", func() bool {
		st, err := primary.status()
		return err == nil && st.Role == "primary" && st.RoleReason != "recovery" && len(st.Peers) == 1 && st.Peers[0].Heartbeat == "Up"
	})
}
