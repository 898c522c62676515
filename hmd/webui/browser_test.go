package webui_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/instance"
	"github.com/hafw/hafw/hwprofiles"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
	"github.com/hafw/hafw/licensing"
)

const (
	browserPassword = "console-pass-1"
	subnet          = "10.241.0"
)

// appliance is one hmd process in its own namespace on the test LAN.
type appliance struct {
	name   string
	hip    netip.Addr
	socket string
	proc   *netnstest.Proc
	// url is the console on the health-monitor address.
	url string
	// ns and args are where and how hmd runs, for restart.
	ns   *netnstest.NS
	args []string
}

func lanAddr(host int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("%s.%d", subnet, host)) }
func lanPrefix(host int) netip.Prefix {
	return netip.PrefixFrom(lanAddr(host), 24)
}

// buildHMD compiles the real daemon once for this test.
func buildHMD(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", dir+"/", "github.com/hafw/hafw/cmd/hmd").CombinedOutput()
	if err != nil {
		t.Fatalf("go build hmd: %v\n%s", err, out)
	}
	return filepath.Join(dir, "hmd")
}

// consoleLAN is what every browser test stands on: hmd built once, the
// hash of the console password, a bridge, and the namespace at .1 the
// browser runs in.
type consoleLAN struct {
	bin, hash string
	br        *netnstest.Bridge
	gw        *netnstest.NS
}

// newConsoleLAN skips (saying why) outside root with Chromium, and sets
// the LAN up.
func newConsoleLAN(t *testing.T, what string) consoleLAN {
	t.Helper()
	testenv.Short(t, what)
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "ip", "go", "chromium")
	hash, err := config.HashPassword(browserPassword)
	if err != nil {
		t.Fatal(err)
	}
	l := consoleLAN{bin: buildHMD(t), hash: hash, br: netnstest.NewBridge(t, "wbr"), gw: netnstest.New(t, "wgw")}
	l.br.Attach(l.gw, "eth0")
	l.gw.AddAddr("eth0", lanPrefix(1))
	return l
}

// start runs an appliance on the LAN (startAppliance).
func (l consoleLAN) start(t *testing.T, name string, host int, role config.Role, profile string, vipHost int, extra ...string) *appliance {
	t.Helper()
	return startAppliance(t, l.bin, l.br, l.hash, name, host, role, profile, vipHost, extra...)
}

// pairByAPI pairs secondary to primary through the primary's local API
// with manual failover and failback, pinning the certificate the
// secondary's own status shows.
func pairByAPI(t *testing.T, primary, secondary *appliance, wait time.Duration) {
	t.Helper()
	sst, err := secondary.status()
	if err != nil {
		t.Fatalf("secondary status: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := api.NewUnixClient(primary.socket).Pair(ctx, api.PairRequest{SecondaryName: secondary.name, SecondaryIP: secondary.hip.String(),
		SecondaryPassword: browserPassword, FailoverType: api.Manual, FailbackType: api.Manual, LongFailoverWait: api.Duration(wait),
		SecondaryFingerprint: sst.CertFingerprint}); err != nil {
		t.Fatalf("pair %s with %s: %v", primary.name, secondary.name, err)
	}
}

// startAppliance creates a namespace cabled to br at .host and runs hmd in
// it with a fresh configuration (vipHost > 0 gives a primary its VIP).
// extra flags override the defaults (the last of a repeated flag wins).
func startAppliance(t *testing.T, bin string, br *netnstest.Bridge, hash, name string, host int, role config.Role, profile string, vipHost int, extra ...string) *appliance {
	t.Helper()
	ns := netnstest.New(t, name)
	br.Attach(ns, "eth0")
	ns.AddAddr("eth0", lanPrefix(host))
	ns.IP("route", "add", "default", "via", lanAddr(1).String())
	cfg := config.Default()
	cfg.Hostname, cfg.Role, cfg.Profile, cfg.PasswordHash = name, role, profile, hash
	cfg.Eth0 = config.Interface{Enabled: true, Address: lanPrefix(host), Gateway: lanAddr(1)}
	if vipHost > 0 {
		cfg.VIP = lanPrefix(vipHost)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "appliance.json")
	if err := config.Save(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	a := &appliance{name: name, hip: lanAddr(host), socket: filepath.Join(dir, "hmd.sock"), ns: ns}
	args := []string{"--config", cfgPath, "--state-dir", filepath.Join(dir, "hmd"), "--socket", a.socket,
		"--version-file", filepath.Join(dir, "no-version"), "--profile-file", filepath.Join(dir, "no-profile"),
		"--vendor-key", filepath.Join(dir, "no-key"), "--license-dir", filepath.Join(dir, "licenses")}
	a.args = append(append([]string{bin}, args...), extra...)
	a.start(t)
	return a
}

// start runs hmd with a.args (and extra, which override them) and waits
// until it answers.
func (a *appliance) start(t *testing.T, extra ...string) {
	t.Helper()
	a.proc = a.ns.Start(a.args[0], append(a.args[1:], extra...)...)
	netnstest.Eventually(t, 15*time.Second, a.name+"'s hmd to answer", func() bool {
		select {
		case <-a.proc.Exited():
			t.Fatalf("%s's hmd exited: %v\n%s", a.name, a.proc.Err(), a.proc.Output())
		default:
		}
		_, err := a.status()
		return err == nil
	})
}

func (a *appliance) status() (api.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c := api.NewUnixClient(a.socket)
	defer c.CloseIdleConnections()
	return c.Status(ctx)
}

// artifactDir is where the screenshots go: $HAFW_ARTIFACTS/webui when set
// (kept), else a temporary directory kept only when the test fails.
func artifactDir(t *testing.T) string {
	t.Helper()
	if root := os.Getenv("HAFW_ARTIFACTS"); root != "" {
		dir := filepath.Join(root, "webui")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	dir, err := os.MkdirTemp("", "hafw-webui-artifacts-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(dir)
		}
	})
	return dir
}

// browser is headless Chromium, started inside a namespace of the test
// LAN (so it reaches the appliances' health-monitor addresses and nothing
// else) and driven over the DevTools pipe.
type browser struct {
	t         *testing.T
	ctx       context.Context
	shots     string
	mu        sync.Mutex
	questions []string
}

func newBrowser(t *testing.T, ns *netnstest.NS) *browser {
	t.Helper()
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath("chromium"),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// Appliances have self-signed certificates (see tlsid.Identity).
		chromedp.Flag("ignore-certificate-errors", true),
		// Run it as `ip netns exec NS chromium …`; the DevTools pipe (fds 3
		// and 4) survives the exec. The browser dies with the test.
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			cmd.Args = append([]string{"ip", "netns", "exec", ns.Name}, cmd.Args...)
			cmd.Path = ipPath
			if cmd.SysProcAttr == nil {
				cmd.SysProcAttr = &syscall.SysProcAttr{}
			}
			cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
		}),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx, shots: artifactDir(t)}
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// The seed's confirmation questions: record them and answer OK.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.questions = append(b.questions, ev.Message)
			b.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	t.Logf("screenshots in %s", b.shots)
	return b
}

// do runs browser steps with a bound, failing the test with what.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		body, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("body")))
		b.t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// waitText waits until the element's text contains want, without
// reloading: the page's own script must bring the change.
func (b *browser) waitText(sel, want string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if err == nil && strings.Contains(s, want) {
			return
		}
		last = s
		time.Sleep(200 * time.Millisecond)
	}
	b.t.Fatalf("%s never showed %q; last %q", sel, want, last)
}

func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// login opens url, which must bring the login form, and logs in.
func (b *browser) login(url string) {
	b.t.Helper()
	b.do("log in at "+url, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("password"), browserPassword), chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitNotPresent(chromedp.ID("password")))
}

// recordTexts makes the page remember every text the element shows, so
// that short-lived states (a sync percentage) are seen even between polls
// of the test.
func (b *browser) recordTexts(sel string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		window.hafwSeen = [el.textContent.trim()];
		new MutationObserver(() => {
			const t = el.textContent.trim();
			if (window.hafwSeen[window.hafwSeen.length - 1] !== t) window.hafwSeen.push(t);
		}).observe(el, {childList: true, characterData: true, subtree: true});
		return 1;
	})()`, sel)
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](js)); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) recorded() []string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`window.hafwSeen`))
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

// preloadMiB is how much data the primary's instance database holds before
// pairing: at the ~200 MB/s of an initial sync over veth (docs/benchmarks.md)
// it takes a few seconds to ship.
const preloadMiB = 192

// consoleSlot is the instance slot of the pair configured in the console:
// the secondary's second pair (the seed's mseos4), as mse4 pairs with it
// first through the API. The primary keeps the pair's database under it.
const consoleSlot = 4

// preloadInstance fills the database of the console's pair with mib
// MiB of random values before hmd starts (hmd then owns the file); the
// values are committed through the instance package as the instance API
// commits them.
func preloadInstance(t *testing.T, dir string, mib int) {
	t.Helper()
	start := time.Now()
	db, err := instance.Open(filepath.Join(dir, strconv.Itoa(consoleSlot), "instance.db"), instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const chunk = 8 << 20
	for i := range mib << 20 / chunk {
		v := make([]byte, chunk)
		rand.Read(v)
		if _, err := db.Update(context.Background(), func(tx *instance.Txn) error {
			return tx.Put([]byte(fmt.Sprintf("preload/%03d", i)), v)
		}); err != nil {
			t.Fatalf("preload the instance database: %v", err)
		}
	}
	t.Logf("preloaded %d MiB into the primary's instance database in %v", mib, time.Since(start).Round(time.Millisecond))
}

var syncRE = regexp.MustCompile(`^Primary and secondary server synchronization in progress \((\d+)% complete\)$`)

// checkSyncProgress: the page ends Active, and any sync percentages it
// showed on the way never go back and stay within 0–100.
func checkSyncProgress(t *testing.T, seen []string) {
	t.Helper()
	if len(seen) == 0 || seen[len(seen)-1] != "Active" {
		t.Errorf("the status did not end Active: %q", seen)
	}
	last := -1
	for _, s := range seen {
		m := syncRE.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		pct, _ := strconv.Atoi(m[1])
		if pct < last || pct > 100 {
			t.Errorf("sync progress went %d%% then %d%%: %q", last, pct, seen)
		}
		last = pct
	}
}

// keepTexts is recordTexts for an element of a page that is about to be
// left (a form's post): the texts go to the tab's session storage, which
// outlives the navigation, and kept reads them on the next page.
func (b *browser) keepTexts(sel string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		sessionStorage.setItem("hafwKept", "[]");
		new MutationObserver(() => {
			const seen = JSON.parse(sessionStorage.getItem("hafwKept"));
			seen.push(el.textContent.trim());
			sessionStorage.setItem("hafwKept", JSON.stringify(seen));
		}).observe(el, {childList: true, characterData: true, subtree: true});
		return 1;
	})()`, sel)
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](js)); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) kept() []string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`JSON.parse(sessionStorage.getItem("hafwKept") || "[]")`))
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

// asked reports whether the page asked q in a confirmation dialog.
func (b *browser) asked(q string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Contains(b.questions, q)
}

// markPage sets a marker in the page's JavaScript state: if it is still
// there later, the page was not reloaded.
func (b *browser) markPage() {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`window.hafwMark = 1`)); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) samePage() bool {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.hafwMark === 1`))
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

// TestConsoleInBrowser pairs two real hmd processes through the console in
// headless Chromium, watches the status turn Active live, switches over,
// is refused a failback inside the stabilization window, forces it, reads
// the N:1 view on the secondary and deletes the secondary.
func TestConsoleInBrowser(t *testing.T) {
	lan := newConsoleLAN(t, "browser test against hmd in network namespaces")
	// Enough data that the initial sync takes seconds and the page can
	// show its percentage on the way.
	instDir := t.TempDir()
	preloadInstance(t, instDir, preloadMiB)
	primary := lan.start(t, "mse1", 2, config.RolePrimary, "3310", 10, "--instance-dir", instDir)
	secondary := lan.start(t, "mse2", 3, config.RoleSecondary, "3355", 0)
	// A second primary of the N:1 secondary, paired through the API.
	other := lan.start(t, "mse4", 4, config.RolePrimary, "3350", 11)
	pairByAPI(t, other, secondary, time.Second)
	for _, a := range []*appliance{primary, secondary} {
		a.url = "https://" + netip.AddrPortFrom(a.hip, api.Port).String()
	}

	t.Run("unauthenticated requests are refused", func(t *testing.T) {
		refusedWithoutLogin(t, lan.gw, primary.url)
	})

	b := newBrowser(t, lan.gw)
	p := primary.url
	// Login: a wrong password is refused next to the field.
	b.do("open the console", chromedp.Navigate(p+"/ui/"), chromedp.WaitVisible(chromedp.ID("password")))
	b.shot("01-login")
	b.do("log in with a wrong password", chromedp.SendKeys(chromedp.ID("password"), "wrong"), chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("password-error")))
	if got := b.text("#password-error"); !strings.Contains(got, "not this appliance's password") {
		t.Errorf("login error = %q", got)
	}
	b.do("log in", chromedp.SendKeys(chromedp.ID("password"), browserPassword), chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS("table.grid")))
	if got := b.text("table.grid tbody"); !strings.Contains(got, "mse1") || !strings.Contains(got, "click here to configure") {
		t.Errorf("appliances list = %q", got)
	}
	b.shot("02-appliances")

	// The pairing form: bad input gets the API's reasons next to the fields.
	b.do("open HA configuration", chromedp.Click(chromedp.CSS(`a[href="/ui/ha"]`)), chromedp.WaitVisible(chromedp.ID("pair-form")))
	b.do("fill the form badly",
		chromedp.SendKeys(chromedp.ID("secondary_name"), "mse2"),
		chromedp.SendKeys(chromedp.ID("secondary_ip"), "10.241.0.300"),
		chromedp.SendKeys(chromedp.ID("secondary_password"), "nope"),
		chromedp.SetValue(chromedp.ID("long_failover_wait"), "soon"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("secondary_ip-error")))
	if got := b.text("#secondary_ip-error"); !strings.Contains(got, "not a unicast IPv4 address") {
		t.Errorf("secondary IP error = %q", got)
	}
	if got := b.text("#long_failover_wait-error"); !strings.Contains(got, "not a duration") {
		t.Errorf("failover wait error = %q", got)
	}
	if !b.asked("Are you sure you want to pair up these two servers?") {
		t.Error("the seed's confirmation was not asked")
	}
	b.shot("03-ha-form-errors")
	// A wrong secondary password is the secondary's refusal, shown at its field.
	b.do("fix the address, keep a wrong password",
		chromedp.SetValue(chromedp.ID("secondary_ip"), secondary.hip.String()),
		chromedp.SetValue(chromedp.ID("long_failover_wait"), "1"),
		chromedp.SendKeys(chromedp.ID("secondary_password"), "wrong-password"),
		chromedp.SetValue(chromedp.ID("failover_type"), "manual"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("secondary_password-error")))
	if got := b.text("#secondary_password-error"); !strings.Contains(got, "not the secondary's password") {
		t.Errorf("secondary password error = %q", got)
	}
	// Without a pinned certificate the Save is refused, and the form fills
	// in the one the secondary presents, for the operator to compare with
	// the secondary's own console and confirm with the next Save.
	b.do("save without a fingerprint", chromedp.SendKeys(chromedp.ID("secondary_password"), browserPassword),
		chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.ID("secondary_fingerprint-error")))
	sst, err := secondary.status()
	if err != nil {
		t.Fatal(err)
	}
	if fp, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID("secondary_fingerprint"))); err != nil || fp != sst.CertFingerprint || fp == "" {
		t.Fatalf("fingerprint filled in %q (%v), the secondary's own is %q", fp, err, sst.CertFingerprint)
	}
	if got := b.text("#secondary-fingerprint"); got != sst.CertFingerprint {
		t.Errorf("the certificate shown is %q, want %q", got, sst.CertFingerprint)
	}
	b.shot("03b-ha-confirm-fingerprint")
	start := time.Now()
	b.keepTexts("#pair-wait")
	b.do("pair", chromedp.SendKeys(chromedp.ID("secondary_password"), browserPassword),
		chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.ID("status-text")))
	// While Save ran, the form said what the seed's console says.
	if kept := b.kept(); !slices.ContainsFunc(kept, func(s string) bool {
		return strings.HasPrefix(s, "Please Wait. High Availability configuration is being created at the Primary and Secondary servers.")
	}) {
		t.Errorf("the pairing form did not say Please Wait while Save ran: %q", kept)
	}
	b.markPage()
	b.recordTexts("#status-text")
	b.waitText("#heartbeats", "Up", 20*time.Second)
	b.waitText("#status-text", "Active", 20*time.Second)
	b.waitText("#replication", "Up", 20*time.Second)
	b.waitText("#events", "Heartbeats have been setup successfully", 10*time.Second)
	t.Logf("pair Active in the browser %v after Save", time.Since(start).Round(10*time.Millisecond))
	seen := b.recorded()
	t.Logf("status texts the page showed: %q", seen)
	checkSyncProgress(t, seen)
	if !slices.ContainsFunc(seen, func(s string) bool {
		m := syncRE.FindStringSubmatch(s)
		if m == nil {
			return false
		}
		pct, _ := strconv.Atoi(m[1])
		return pct > 0 && pct < 100
	}) {
		t.Errorf("the page showed no sync percentage strictly between 0 and 100 before Active: %q", seen)
	}
	if !b.samePage() {
		t.Error("the status page reloaded; the updates must come from its script")
	}
	if got := b.text("#flash"); !strings.Contains(got, "Configuration successfully created") {
		t.Errorf("flash after pairing = %q", got)
	}
	b.shot("04-status-active")

	// Switchover: the primary stops, the secondary takes over.
	b.do("switch over", chromedp.Navigate(p+"/ui/ha"), chromedp.WaitVisible(chromedp.ID("switchover")),
		chromedp.Click(chromedp.ID("switchover")), chromedp.WaitVisible(chromedp.ID("own-state")))
	b.markPage()
	b.waitText("#own-state", "TERMINATED", 20*time.Second)
	b.waitText("#peer-state", "FAILOVER_ACTIVE", 20*time.Second)
	b.waitText("#self-state", "TERMINATED", 5*time.Second)
	b.waitText("#events", "Failover invoked", 10*time.Second)
	if !b.samePage() {
		t.Error("the status page reloaded during the switchover")
	}
	b.shot("05-status-switched-over")

	// Failback right after the failover is refused with the reason; forced it runs.
	b.do("fail back", chromedp.Navigate(p+"/ui/ha"), chromedp.WaitVisible(chromedp.ID("failback")),
		chromedp.Click(chromedp.ID("failback")), chromedp.WaitVisible(chromedp.ID("flash")))
	if got := b.text("#flash"); !strings.Contains(got, "Failback refused") || !strings.Contains(got, "stabiliz") {
		t.Errorf("failback inside the stabilization window: flash %q", got)
	}
	b.do("force the failback", chromedp.Navigate(p+"/ui/ha"), chromedp.WaitVisible(chromedp.ID("failback-force")),
		chromedp.Click(chromedp.ID("failback-force")), chromedp.Click(chromedp.ID("failback")), chromedp.WaitVisible(chromedp.ID("own-state")))
	b.waitText("#own-state", "PRIMARY_ACTIVE", 30*time.Second)
	b.waitText("#peer-state", "SECONDARY_ACTIVE", 30*time.Second)

	// The N:1 view on the secondary: its primary and their heartbeats.
	b.login(secondary.url + "/ui/n1")
	b.do("open the secondary's N:1 view", chromedp.WaitVisible(chromedp.ID("live")))
	for _, a := range []*appliance{primary, other} {
		cell := func(field string) string {
			return fmt.Sprintf(`#live td[data-peer="%s"][data-field="%s"]`, a.hip, field)
		}
		b.waitText("#live tbody", a.name, 5*time.Second)
		b.waitText(cell("heartbeat"), "Up", 10*time.Second)
		b.waitText(cell("state"), "SECONDARY_ACTIVE", 10*time.Second)
		b.waitText(cell("peer_state"), "PRIMARY_ACTIVE", 10*time.Second)
	}
	b.shot("06-n1-secondary")

	// Delete the secondary from the primary: the pairing form returns.
	b.do("delete the secondary", chromedp.Navigate(p+"/ui/ha"), chromedp.WaitVisible(chromedp.ID("delete")),
		chromedp.Click(chromedp.ID("delete")), chromedp.WaitVisible(chromedp.ID("pair-form")))
	if !b.asked("Are you sure you want to delete the secondary server? This breaks the pair.") {
		t.Error("delete was not confirmed")
	}
	b.shot("07-deleted")
	netnstest.Eventually(t, 10*time.Second, "the secondary to forget mse1 and keep mse4", func() bool {
		st, err := secondary.status()
		return err == nil && len(st.Peers) == 1 && st.Peers[0].HealthMonitorIP == other.hip.String()
	})

	// The secondary's hmd dies with its N:1 view open: the page says at
	// once that what it shows is no longer current, instead of showing the
	// last figures as if they were.
	b.do("open the secondary's N:1 view again", chromedp.Navigate(secondary.url+"/ui/n1"), chromedp.WaitVisible(chromedp.ID("live")))
	b.waitText("#live tbody", "SECONDARY_ACTIVE", 10*time.Second)
	if err := secondary.proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	b.waitText("#stale", "No update from this appliance for", 20*time.Second)
	t.Logf("stale banner %v after the secondary's hmd died", time.Since(killed).Round(100*time.Millisecond))
	b.shot("08-n1-stale")
}

// refusedWithoutLogin checks that nothing of the console is served, and no
// operation runs, without the appliance password or with a forged form.
func refusedWithoutLogin(t *testing.T, ns *netnstest.NS, base string) {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := ns.Do(func() error {
			var d net.Dialer
			var err error
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	c := &http.Client{
		Transport:     &http.Transport{DialContext: dial, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	defer c.CloseIdleConnections()
	do := func(method, path, user, pass string, form url.Values, cookie *http.Cookie) *http.Response {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, path := range []string{"/ui/", "/ui/ha", "/ui/status", "/ui/n1", "/ui/licenses", "/ui/recovery"} {
		resp := do("GET", path, "", "", nil, nil)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/ui/login") {
			t.Errorf("GET %s without login: %s, Location %q", path, resp.Status, resp.Header.Get("Location"))
		}
	}
	// One wrong password only: a few more would lock this address out (the
	// API's guessing bound) and the right password below would be refused.
	if resp := do("GET", "/ui/ha", api.AdminUser, "wrong", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /ui/ha with a wrong password: %s", resp.Status)
	}
	if resp := do("GET", "/ui/live", "", "", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /ui/live without login: %s", resp.Status)
	}
	for _, path := range []string{"/ui/ha/pair", "/ui/ha/switchover", "/ui/ha/delete", "/ui/license", "/ui/licenses/deactivate", "/ui/recovery/restore"} {
		if resp := do("POST", path, "", "", url.Values{"peer": {"10.241.0.3"}}, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST %s without login: %s", path, resp.Status)
		}
	}
	// Basic auth reads a page without opening a session; the login form
	// opens one, but a post without its CSRF token (what another site
	// could forge) is still refused.
	resp := do("GET", "/ui/", api.AdminUser, browserPassword, nil, nil)
	if resp.StatusCode != http.StatusOK || len(resp.Cookies()) != 0 {
		t.Fatalf("GET /ui/ with the password: %s, cookies %v", resp.Status, resp.Cookies())
	}
	resp = do("POST", "/ui/login", "", "", url.Values{"password": {browserPassword}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /ui/login: %s", resp.Status)
	}
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "hafw_session" {
			session = ck
		}
	}
	if session == nil || !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v: want Secure, HttpOnly, SameSite=Strict", session)
	}
	if resp := do("POST", "/ui/ha/switchover", "", "", url.Values{"csrf": {"forged"}}, session); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST with a forged CSRF token: %s", resp.Status)
	}
}

// TestConsoleActivatesAVirtualSecondary walks the seed's activation path:
// pairing a virtual secondary without its activation license is refused
// with the seed's message and the form shows the secondary's UDI and
// "Not Activated"; Check secondary shows the same, the license is uploaded
// for the secondary on the primary's form, and the same form then pairs.
func TestConsoleActivatesAVirtualSecondary(t *testing.T) {
	lan := newConsoleLAN(t, "browser test against hmd in network namespaces")
	pub, priv, err := licensing.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys := t.TempDir()
	keyFile := filepath.Join(keys, "vendor.pub")
	if err := licensing.WritePublicKey(keyFile, pub); err != nil {
		t.Fatal(err)
	}
	prof, err := hwprofiles.Lookup("VA-Low")
	if err != nil {
		t.Fatal(err)
	}
	activation := func(host string) []byte {
		udi, err := licensing.ParseUDI(prof.ProductID + ":V01:" + host)
		if err != nil {
			t.Fatal(err)
		}
		lic, err := licensing.Issue(priv, licensing.License{Feature: licensing.Activation, Count: 1, UDI: udi, Issued: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return lic
	}
	// The primary is activated (an unactivated virtual appliance takes no
	// HA role); the secondary's license is what the console uploads.
	primaryLicenses := filepath.Join(keys, "va1-licenses")
	if err := os.MkdirAll(primaryLicenses, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(primaryLicenses, "va1"+licensing.Ext), activation("va1"), 0o644); err != nil {
		t.Fatal(err)
	}
	licFile := filepath.Join(keys, "va2.lic")
	if err := os.WriteFile(licFile, activation("va2"), 0o644); err != nil {
		t.Fatal(err)
	}
	primary := lan.start(t, "va1", 2, config.RolePrimary, "VA-Low", 10, "--vendor-key", keyFile, "--license-dir", primaryLicenses)
	if st, err := primary.status(); err != nil || st.Role != "primary" {
		t.Fatalf("the activated primary takes no primary role: %+v, %v", st, err)
	}
	secondary := lan.start(t, "va2", 3, config.RoleSecondary, "VA-Low", 0, "--vendor-key", keyFile)

	sst, err := secondary.status()
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, lan.gw)
	p := "https://" + netip.AddrPortFrom(primary.hip, api.Port).String()
	fill := chromedp.Steps(
		chromedp.WaitVisible(chromedp.ID("pair-form")),
		chromedp.SetValue(chromedp.ID("secondary_name"), "va2"),
		chromedp.SetValue(chromedp.ID("secondary_ip"), secondary.hip.String()),
		chromedp.SetValue(chromedp.ID("secondary_fingerprint"), sst.CertFingerprint),
		chromedp.SendKeys(chromedp.ID("secondary_password"), browserPassword),
		chromedp.SetValue(chromedp.ID("failover_type"), api.Manual),
		chromedp.SetValue(chromedp.ID("long_failover_wait"), "1"),
		chromedp.Click(chromedp.ID("save")))
	b.login(p + "/ui/ha")
	b.do("pair the unlicensed secondary", fill, chromedp.WaitVisible(chromedp.ID("form-error")))
	if got := b.text("#form-error"); !strings.Contains(got, "Secondary MSE needs to be activated with a Virtual Appliance license") {
		t.Fatalf("refusal = %q", got)
	}
	b.shot("11-va-not-activated")
	// The pairing's progress shows only while a Save runs.
	if shown, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`getComputedStyle(document.getElementById("pair-progress")).display !== "none"`)); err != nil || shown {
		t.Errorf("the pairing's progress bar is shown before Save (%v)", err)
	}

	udiText := prof.ProductID + ":V01:va2"
	if got := b.text("#secondary-udi"); got != udiText {
		t.Errorf("secondary platform UDI after the refused Save = %q, want %q", got, udiText)
	}
	if got := b.text("#secondary-activation"); got != "Not Activated" {
		t.Errorf("secondary activation status after the refused Save = %q", got)
	}

	// Check secondary on a fresh form: the same answer, without pairing.
	b.do("check the secondary", chromedp.Navigate(p+"/ui/ha"), chromedp.WaitVisible(chromedp.ID("pair-form")),
		chromedp.SetValue(chromedp.ID("secondary_name"), "va2"),
		chromedp.SetValue(chromedp.ID("secondary_ip"), secondary.hip.String()),
		chromedp.SendKeys(chromedp.ID("secondary_password"), browserPassword),
		chromedp.Click(chromedp.ID("check-secondary")), chromedp.WaitVisible(chromedp.ID("activate-secondary")))
	if got := b.text("#secondary-udi"); got != udiText {
		t.Errorf("secondary platform UDI after Check secondary = %q, want %q", got, udiText)
	}
	if got := b.text("#secondary-activation"); got != "Not Activated" {
		t.Errorf("secondary activation status after Check secondary = %q", got)
	}
	b.shot("11b-va-checked")

	// The license for the secondary, uploaded on the primary's form.
	b.do("upload the secondary's license on the primary's form", chromedp.SendKeys(chromedp.ID("secondary_password"), browserPassword),
		chromedp.SetUploadFiles(chromedp.ID("license"), []string{licFile}),
		chromedp.Click(chromedp.ID("activate-secondary")), chromedp.WaitVisible(chromedp.ID("flash")))
	if got := b.text("#flash"); !strings.Contains(got, "installed on va2") {
		t.Fatalf("upload: %q", got)
	}
	if got := b.text("#secondary-activation"); got != "Activated" {
		t.Errorf("secondary's activation after the upload = %q", got)
	}
	if st, err := secondary.status(); err != nil || st.Role != "secondary" {
		t.Fatalf("secondary after the upload: %+v, %v", st, err)
	}
	b.shot("12-va-license-installed")

	b.do("pair again", chromedp.Navigate(p+"/ui/ha"), fill, chromedp.WaitVisible(chromedp.ID("status-text")))
	b.waitText("#status-text", "Active", 20*time.Second)
	b.waitText("#heartbeats", "Up", 20*time.Second)

	// License Summary on the primary: its own activation license, and the
	// seed's "Delete Secondary Activation license" for its secondary,
	// pinned to the certificate the operator confirms.
	b.do("open License Summary", chromedp.Navigate(p+"/ui/licenses"), chromedp.WaitVisible(chromedp.ID("licenses")))
	if got := b.text("#activation"); got != "Activated" {
		t.Errorf("the primary's activation = %q", got)
	}
	if got := b.text("#licenses tbody"); !strings.Contains(got, "activation") || !strings.Contains(got, "Valid") {
		t.Errorf("the primary's licenses = %q", got)
	}
	if got := b.text("#udi"); got != prof.ProductID+":V01:va1" {
		t.Errorf("the primary's UDI = %q", got)
	}
	if got := b.text("#license-summary"); !strings.Contains(got, "CAS") || !strings.Contains(got, "WIPS") || !strings.Contains(got, "MSAP") {
		t.Errorf("the seed's License Summary table = %q", got)
	}
	b.do("delete without the secondary's certificate", chromedp.SendKeys(chromedp.ID("secondary_password"), browserPassword),
		chromedp.Click(chromedp.ID("deactivate-secondary")), chromedp.WaitVisible(chromedp.ID("secondary_fingerprint-error")))
	if fp, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID("secondary_fingerprint"))); err != nil || fp != sst.CertFingerprint {
		t.Fatalf("fingerprint filled in %q (%v), the secondary's own is %q", fp, err, sst.CertFingerprint)
	}
	if got := b.text("#secondary-activation"); got != "Activated" {
		t.Errorf("the secondary's activation before the delete = %q", got)
	}
	b.do("delete the secondary's activation license", chromedp.SendKeys(chromedp.ID("secondary_password"), browserPassword),
		chromedp.Click(chromedp.ID("deactivate-secondary")), chromedp.WaitVisible(chromedp.ID("flash")))
	if !b.asked("Are you sure you want to delete the secondary's activation license? A virtual secondary without it cannot be paired again until a license is added.") {
		t.Error("the delete was not confirmed")
	}
	if got := b.text("#flash"); !strings.Contains(got, "deleted from va2") {
		t.Errorf("delete: %q", got)
	}
	if got := b.text("#secondary-activation"); got != "Not Activated" {
		t.Errorf("the secondary's activation after the delete = %q", got)
	}
	b.shot("13-va-secondary-license-deleted")
	// A second delete is the secondary's refusal, shown on the form.
	b.do("delete again", chromedp.SendKeys(chromedp.ID("secondary_password"), browserPassword),
		chromedp.Click(chromedp.ID("deactivate-secondary")), chromedp.WaitVisible(chromedp.ID("form-error")))
	if got := b.text("#form-error"); !strings.Contains(got, "holds no activation license") {
		t.Errorf("second delete: %q", got)
	}
	// The pair keeps running: activation is checked when pairing.
	if st, err := primary.status(); err != nil || len(st.Peers) != 1 || st.Peers[0].Heartbeat != "Up" {
		t.Errorf("the pair after the delete: %+v, %v", st, err)
	}
}
