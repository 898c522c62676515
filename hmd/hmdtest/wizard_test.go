package hmdtest

import (
	"context"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/events"
	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/ptytest"
)

// TestWizardOnlySecondaryIsPaired is the seed's secondary set up through
// the setup wizard alone ("secondary password: default or from setup
// script"): the real setup binary on a pseudo-terminal answers its
// prompts, the administrator password first; hmd starts on the
// configuration it wrote; the primary's pairing is refused with a wrong
// secondary password and succeeds with the one typed in the wizard, which
// also logs into the secondary's API from the LAN. Then hactl passwd on
// the secondary changes it: the running hmd takes the new one at once and
// refuses the old one, without a restart.
func TestWizardOnlySecondaryIsPaired(t *testing.T) {
	l := newLAN(t, "10.225.0")
	const typed, changed = "Wizard-only-9", "Changed-later-7"

	// The wizard, as the operator at the secondary's console.
	dir := t.TempDir()
	wizardCfg := filepath.Join(dir, "appliance.json")
	term := ptytest.Start(t, exec.Command(binaryPath(t, "setup"), "-config", wizardCfg, "-control", filepath.Join(dir, "no-agent.sock")))
	term.Expect("No administrator password is set.")
	term.Answer("Enter the administrator password: ", typed)
	term.Answer("Enter the administrator password again: ", typed)
	term.Answer("Configure hostname? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.Answer("Enter a host name [mse]: ", "mse2")
	term.Answer("Configure domain name? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.Answer("Configure High Availability? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.Answer("Select role [1 for Primary, 2 for Secondary] [1]: ", "2")
	term.Answer("Select Health Monitor Interface [eth0/eth1] [eth0]: ", "")
	term.Answer("Select direct connect interface [eth0/eth1/none] [none]: ", "")
	term.Answer("Configure eth0 interface parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.Answer("Enter eth0 IP address", l.addr(3).String())
	term.Answer("Enter network mask", "255.255.255.0")
	term.Answer("Enter default gateway address", l.addr(1).String())
	term.Answer("Configure eth1 interface parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.Answer("Configure DNS related parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.Answer("Configure timezone? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.Answer("Configure NTP related parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.Expect("Role=2, Health Monitor Interface=eth0, Direct connect interface=none")
	term.Answer("Is the above information correct (yes, no, or ^): ", "yes")
	term.Expect("Configuration saved to " + wizardCfg)
	term.Wait()
	if strings.Contains(term.Output(), typed) {
		t.Fatalf("the wizard echoed the password:\n%s", term.Output())
	}
	wiz, err := config.Load(wizardCfg)
	if err != nil {
		t.Fatal(err)
	}

	// hmd on exactly that configuration; only the hardware profile is the
	// lab's (on an appliance the image's profile file gives it).
	s := l.addNode("mse2", 3, config.RoleSecondary, "3355", 0, func(c *config.Appliance, _ *netnstest.NS) {
		profile := c.Profile
		*c = wiz
		c.Profile = profile
	})
	p := l.addNode("mse1", 2, config.RolePrimary, "3355", 10)

	pairWith := func(secondaryPassword string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := p.api().Pair(ctx, api.PairRequest{SecondaryName: "mse2", SecondaryIP: s.hip.String(),
			SecondaryPassword: secondaryPassword, FailoverType: api.Automatic, FailbackType: api.Manual,
			LongFailoverWait: api.Duration(500 * time.Millisecond), SecondaryFingerprint: s.status().CertFingerprint})
		return err
	}
	if err := pairWith("Not-the-one-1"); err == nil || !strings.Contains(err.Error(), "password") {
		t.Fatalf("pairing with a wrong secondary password: %v, want a refusal naming the password", err)
	}
	if err := pairWith(typed); err != nil {
		t.Fatalf("pairing with the wizard's password: %v\nprimary:\n%s\nsecondary:\n%s", err, p.proc.Output(), s.proc.Output())
	}
	p.waitState(0, "PRIMARY_ACTIVE", 10*time.Second)
	s.waitState(0, "SECONDARY_ACTIVE", 10*time.Second)

	// The operator's login from the LAN (basic authentication, user admin).
	login := func(password string) int {
		code, _ := getIn(t, l.client, "https://"+url.UserPassword(api.AdminUser, password).String()+"@"+s.hip.String()+":8443/v1/status", "")
		return code
	}
	if code := login(typed); code != 200 {
		t.Fatalf("login with the wizard's password: %d", code)
	}

	// hactl passwd on the secondary: a weak new password is refused and
	// changes nothing; then the change, seen by the running hmd at once.
	passwd := func(input string) (string, error) {
		cmd := exec.Command(binaryPath(t, "hactl"), "--socket", s.socket, "passwd", "--stdin")
		cmd.Stdin = strings.NewReader(input)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := passwd(typed + "\nweak\n"); err == nil || !strings.Contains(out, "new: the password must have at least 10 characters") {
		t.Fatalf("hactl passwd with a weak password: %v\n%s", err, out)
	}
	if out, err := passwd(typed + "\n" + changed + "\n"); err != nil {
		t.Fatalf("hactl passwd: %v\n%s", err, out)
	}
	if code := login(changed); code != 200 {
		t.Errorf("login with the changed password: %d", code)
	}
	if code := login(typed); code != 401 {
		t.Errorf("login with the old password after the change: %d, want 401", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	evs, err := s.api().Events(ctx, "", 0)
	if err != nil || !slices.ContainsFunc(evs, func(e events.Event) bool {
		return e.Description == "Administrator password changed" && e.Remarks == "from the local socket"
	}) {
		t.Errorf("the events log lacks the change: %v %+v", err, evs)
	}
	stored, err := config.Load(s.cfgPath)
	if err != nil || !config.CheckPassword(stored.PasswordHash, changed) {
		t.Errorf("the stored configuration does not have the changed password: %v", err)
	}
}
