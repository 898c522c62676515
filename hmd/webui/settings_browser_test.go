package webui_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
)

// TestConsoleChangesTheSettings is the seed's "change the HA parameters
// and Save" in Chromium against a real pair: a bad wait is refused next
// to its field with nothing changed on either appliance, then the failover
// type and wait are changed and both appliances hold the new values.
func TestConsoleChangesTheSettings(t *testing.T) {
	lan := newConsoleLAN(t, "browser test against hmd in network namespaces")
	primary := lan.start(t, "mse1", 2, config.RolePrimary, "3355", 10)
	secondary := lan.start(t, "mse2", 3, config.RoleSecondary, "3355", 0)
	pairByAPI(t, primary, secondary, 10*time.Second)
	settings := func(a *appliance) string {
		t.Helper()
		st, err := a.status()
		if err != nil || len(st.Peers) != 1 {
			t.Fatalf("%s status: %+v %v", a.name, st, err)
		}
		p := st.Peers[0]
		return p.FailoverType + " " + p.FailbackType + " " + (time.Duration(p.FailoverWaitMS) * time.Millisecond).String()
	}

	b := newBrowser(t, lan.gw)
	url := "https://" + netip.AddrPortFrom(primary.hip, api.Port).String()
	b.login(url + "/ui/ha")
	b.do("open the paired page", chromedp.WaitVisible(chromedp.ID("settings-form")))
	b.shot("30-settings")

	b.do("save a wait that is no duration", chromedp.SetValue(chromedp.ID("long_failover_wait"), "soon"),
		chromedp.Click(chromedp.ID("save-settings")), chromedp.WaitVisible(chromedp.ID("long_failover_wait-error")))
	if got := b.text("#long_failover_wait-error"); !strings.Contains(got, "not a duration") {
		t.Errorf("the wait's error reads %q", got)
	}
	b.shot("31-settings-refused")
	for _, a := range []*appliance{primary, secondary} {
		if got := settings(a); got != "manual manual 10s" {
			t.Errorf("after the refused Save %s holds %s", a.name, got)
		}
	}

	b.do("change the failover type and wait", chromedp.SetValue(chromedp.ID("long_failover_wait"), "3"),
		chromedp.SetValue(chromedp.ID("failover_type"), api.Automatic),
		chromedp.Click(chromedp.ID("save-settings")), chromedp.WaitVisible(chromedp.ID("flash")))
	if got := b.text("#flash"); !strings.Contains(got, "Failover mode set to AUTOMATIC.") || !strings.Contains(got, "Long failover wait set to 3 seconds.") {
		t.Errorf("the page says %q", got)
	}
	if !b.asked("Change these high availability parameters on both appliances?") {
		t.Error("Save did not ask for confirmation")
	}
	b.shot("32-settings-saved")
	for _, a := range []*appliance{primary, secondary} {
		if got := settings(a); got != "automatic manual 3s" {
			t.Errorf("after Save %s holds %s", a.name, got)
		}
	}
}
