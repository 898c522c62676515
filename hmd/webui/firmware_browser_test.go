package webui_test

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/upgrade/upgradetest"
)

// TestConsoleInstallsAnUpdate uploads update bundles on the Firmware page
// of a real hmd in Chromium, as an operator would: a bundle for another
// profile is refused with the reason and changes nothing; the right one
// shows its progress to the end, says which slot it went to, and the
// slots table then shows it pending.
func TestConsoleInstallsAnUpdate(t *testing.T) {
	lan := newConsoleLAN(t, "browser test against hmd in a network namespace")
	esp, etc, good, other := upgradetest.Fixture(t)
	a := lan.start(t, "fw1", 2, config.RoleNone, "3355", 0,
		"--esp", esp, "--profile-file", filepath.Join(etc, "profile"), "--version-file", filepath.Join(etc, "version"),
		"--vendor-key", filepath.Join(etc, "vendor.pub"))
	b := newBrowser(t, lan.gw)
	p := "https://" + netip.AddrPortFrom(a.hip, api.Port).String()
	b.login(p + "/ui/firmware")
	b.do("open the firmware page", chromedp.WaitVisible(chromedp.ID("upgrade-form")))
	if got := b.text("#slot-A"); !strings.Contains(got, "1.0") || !strings.Contains(got, "active") {
		t.Fatalf("slot A row %q", got)
	}
	b.shot("20-firmware")

	b.do("upload another profile's bundle", chromedp.SetUploadFiles(chromedp.ID("bundle"), []string{other}),
		chromedp.Click(chromedp.ID("install")))
	b.waitText("#upgrade-stage", "bundle is for 3310, this appliance is 3355", 60*time.Second)
	b.shot("21-firmware-refused")
	b.do("reload", chromedp.Navigate(p+"/ui/firmware"), chromedp.WaitVisible(chromedp.ID("upgrade-form")))
	if got := b.text("#slot-B"); strings.Contains(got, "2.0") {
		t.Fatalf("the refused bundle shows in slot B: %q", got)
	}

	b.do("upload the update", chromedp.SetUploadFiles(chromedp.ID("bundle"), []string{good}),
		chromedp.Click(chromedp.ID("install")))
	b.waitText("#upgrade-stage", "version 2.0 installed in slot B", 60*time.Second)
	if value, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`document.getElementById("upgrade-progress").value`)); err != nil || value != 100 {
		t.Errorf("progress bar at %v after the install (%v), want 100", value, err)
	}
	b.shot("22-firmware-installed")
	b.do("reload", chromedp.Navigate(p+"/ui/firmware"), chromedp.WaitVisible(chromedp.ID("upgrade-form")))
	if got := b.text("#slot-B"); !strings.Contains(got, "2.0") || !strings.Contains(got, "pending: boots next") {
		t.Fatalf("slot B row after the install %q", got)
	}
	st, err := a.status()
	if err != nil || st.Firmware == nil || len(st.Firmware.Slots) != 2 || !st.Firmware.Slots[1].Pending {
		t.Fatalf("hmd's status after the install: %+v, %v", st.Firmware, err)
	}
}
