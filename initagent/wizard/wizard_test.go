package wizard

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/hafw/hafw/config"
)

// testPassword passes the password rule.
const testPassword = "Wizard-pass-1"

// withPassword puts the answers of the first step, the password, before
// answers: a new one (twice) on an appliance without one, "keep" on one
// that has one.
func withPassword(cur config.Appliance, answers []string) []string {
	if cur.PasswordHash != "" {
		return append([]string{""}, answers...)
	}
	return append([]string{testPassword, testPassword}, answers...)
}

// run answers the password step (withPassword), then the given answers.
func run(t *testing.T, cur config.Appliance, running bool, answers ...string) (config.Appliance, string, error) {
	t.Helper()
	var out strings.Builder
	w := &Wizard{
		In:              strings.NewReader(strings.Join(withPassword(cur, answers), "\n") + "\n"),
		Out:             &out,
		Current:         cur,
		ServicesRunning: func() bool { return running },
	}
	a, err := w.Run()
	return a, out.String(), err
}

// primaryAnswers is the seed's primary VA walk-through (mse1, VIP
// 10.10.10.11, eth0 10.10.10.12/24, gateway 10.10.10.1, UTC, NTP).
func primaryAnswers() []string {
	return []string{
		"", "mse1", // hostname: Yes, name
		"s",                     // domain: skip
		"", "1", "eth0", "none", // HA: yes, primary, HM eth0, no direct connect
		"10.10.10.11", "255.255.255.0", "no", // VIP, mask, recovery
		"", "10.10.10.12", "", "10.10.10.1", // eth0: yes, address, mask default, gateway
		"s",      // eth1: skip
		"s",      // DNS: skip
		"", "11", // timezone: yes, UTC
		"", "yes", "ntp.network.local", "", // NTP: yes, enable, server, no more
		"yes",
	}
}

func TestSeedPrimaryWalkThrough(t *testing.T) {
	a, out, err := run(t, config.Default(), false, primaryAnswers()...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := config.Default()
	want.Hostname, want.Role = "mse1", config.RolePrimary
	want.VIP = netip.MustParsePrefix("10.10.10.11/24")
	want.Eth0 = config.Interface{Enabled: true, Address: netip.MustParsePrefix("10.10.10.12/24"), Gateway: netip.MustParseAddr("10.10.10.1")}
	want.NTPServers = []string{"ntp.network.local"}
	if !config.CheckPassword(a.PasswordHash, testPassword) || !strings.HasPrefix(a.PasswordHash, "pbkdf2-sha256$600000$") {
		t.Errorf("password hash %q is not the test password's, hashed as config.HashPassword does", a.PasswordHash)
	}
	want.PasswordHash = a.PasswordHash
	if got, _ := a.Marshal(); string(got) != string(must(want.Marshal())) {
		t.Errorf("config\n got %s\nwant %s", got, must(want.Marshal()))
	}
	for _, prompt := range []string{
		"No administrator password is set.\n",
		"It is not shown as you type.\nEnter the administrator password: Enter the administrator password again: Current hostname=[mse]\nConfigure hostname? (Y)es/(S)kip/(U)se default [Yes]: ",
		"Enter a host name [mse]: ",
		"Current role=[None]\nConfigure High Availability? (Y)es/(S)kip/(U)se default [Yes]: ",
		"Select role [1 for Primary, 2 for Secondary] [1]: ",
		"Select Health Monitor Interface [eth0/eth1] [eth0]: ",
		"Select direct connect interface [eth0/eth1/none] [none]: ",
		"Enter Virtual IP address: ",
		"Enter the network mask for IP address 10.10.10.11.\nEnter network mask [255.255.255.0]: ",
		"Do you wish to start this MSE in HA recovery mode ?: (yes/no) [no]: ",
		"Configure eth0 interface parameters? (Y)es/(S)kip/(U)se default [Yes]: ",
		"Enter default gateway address [10.10.10.1]: ",
		"The second ethernet interface is currently disabled for this machine.\nConfigure eth1 interface parameters? (Y)es/(S)kip/(U)se default [Yes]: ",
		"11) UTC - I want to use Coordinated Universal Time.\n12) Return to previous setup step (^).\n#? ",
		"Enable NTP (yes/no) [no]: ",
		"-----BEGIN-----\nHost name=mse1\nRole=1, Health Monitor Interface=eth0, Direct connect interface=none\n" +
			"Virtual IP Address=10.10.10.11, Virtual IP Netmask=255.255.255.0\n" +
			"Eth0 IP address=10.10.10.12, Eth0 network mask=255.255.255.0\nDefault gateway=10.10.10.1\n" +
			"Eth1=disabled\nTime zone=UTC\nEnable NTP=yes, NTP servers=ntp.network.local\n-----END-----\n",
		"Is the above information correct (yes, no, or ^): ",
	} {
		if !strings.Contains(out, prompt) {
			t.Errorf("transcript lacks %q", prompt)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestWrongAnswersAreReasked(t *testing.T) {
	cur := config.Default()
	cur.Eth0 = config.Interface{Enabled: true, Address: netip.MustParsePrefix("10.10.10.12/24"), Gateway: netip.MustParseAddr("10.10.10.1")}
	a, out, err := run(t, cur, false,
		"maybe", "", "-bad-", "mse1", // bad Y/S/U, bad hostname
		"s",
		"", "3", "1", "eth7", "eth0", "eth0", "none", // bad role, unknown HM interface, DC == HM
		"10.10.10.300", "10.10.10.12", "10.20.0.11", "10.10.10.11", "255.0.255.0", "", // bad IP, VIP == HM IP, VIP off subnet, bad mask
		"no",
		"s", "s", "s", "", "11", "s",
		"perhaps", "yes",
	)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if a.Hostname != "mse1" || a.VIP != netip.MustParsePrefix("10.10.10.11/24") || a.HealthMonitorInterface != "eth0" {
		t.Errorf("result %+v", a)
	}
	for _, reason := range []string{
		"Invalid answer: answer Y, S or U. Please try again.",
		`Invalid answer: "-bad-" must start with a letter`,
		"Invalid answer: enter 1 for Primary or 2 for Secondary (or none for no HA role).",
		`Invalid answer: unknown interface "eth7": choose one of eth0, eth1.`,
		"Invalid answer: the direct connect interface must differ from the health monitor interface eth0.",
		`Invalid answer: "10.10.10.300" is not a valid IPv4 address.`,
		"Invalid answer: the virtual IP 10.10.10.12 must differ from the health monitor IP 10.10.10.12.",
		"Invalid answer: the virtual IP 10.20.0.11 is not on the health monitor subnet 10.10.10.0/24.",
		`Invalid answer: "255.0.255.0" is not a contiguous network mask.`,
		"Invalid answer: answer yes, no or ^.",
	} {
		if !strings.Contains(out, reason) {
			t.Errorf("transcript lacks %q", reason)
		}
	}
}

func TestCaretGoesBack(t *testing.T) {
	// At the domain step "^" returns to the hostname step, whose answer is
	// undone and asked again; at the hostname step, to the password.
	a, out, err := run(t, config.Default(), false,
		"", "first", "^", "", "second", "^", "^", "Other-pass-2", "Other-pass-2", "", "third", "s", "s", "s", "s", "s", "s", "s", "yes")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if a.Hostname != "third" || !config.CheckPassword(a.PasswordHash, "Other-pass-2") {
		t.Errorf("hostname %q, want third; password %q, want Other-pass-2's", a.Hostname, a.PasswordHash)
	}
	if n := strings.Count(out, "Configure hostname?"); n != 4 {
		t.Errorf("hostname asked %d times, want 4", n)
	}
	if n := strings.Count(out, "Enter the administrator password: "); n != 2 {
		t.Errorf("password asked %d times, want 2", n)
	}
	// "^" at the confirmation goes back to NTP; "no" starts over.
	_, out, err = run(t, config.Default(), false, "s", "s", "s", "s", "s", "s", "s", "s", "^", "s", "no",
		"", "s", "s", "s", "s", "s", "s", "s", "s", "yes") // the password kept on the second round
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "Configure NTP related parameters?"); n != 3 {
		t.Errorf("NTP asked %d times, want 3", n)
	}
}

func TestRoleSwitchRefusedWhileServicesRun(t *testing.T) {
	cur := config.Default()
	cur.Role = config.RoleSecondary
	cur.Eth0 = config.Interface{Enabled: true, Address: netip.MustParsePrefix("10.10.10.13/24")}
	answers := []string{"s", "s", "", "1", "eth0", "none", "s", "s", "s", "s", "s", "yes"}
	a, out, err := run(t, cur, true, answers...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "*** User has switched roles for this MSE. MSE must be stopped before switching roles.") {
		t.Errorf("no refusal in transcript:\n%s", out)
	}
	if a.Role != config.RoleSecondary {
		t.Errorf("role switched to %s while services run", a.Role)
	}
	// With the services stopped the same answers switch the role (and the
	// primary's VIP is asked).
	answers = []string{"s", "s", "", "1", "eth0", "none", "10.10.10.11", "", "no", "s", "s", "s", "s", "s", "yes"}
	a, out, err = run(t, cur, false, answers...)
	if err != nil || a.Role != config.RolePrimary || strings.Contains(out, "switched roles") {
		t.Errorf("role %s, err %v\n%s", a.Role, err, out)
	}
}

func TestInvalidResultIsNotAccepted(t *testing.T) {
	// Direct connect on eth1 while eth1 stays disabled: the summary's
	// validation refuses and the wizard goes round again.
	cur := config.Default()
	cur.Eth0 = config.Interface{Enabled: true, Address: netip.MustParsePrefix("10.10.10.12/24")}
	_, out, err := run(t, cur, false,
		"s", "s", "", "2", "eth0", "eth1", "s", "s", "s", "s", "s", "yes")
	if !errors.Is(err, ErrAborted) {
		t.Fatalf("err %v, want ErrAborted after the input ran out", err)
	}
	if !strings.Contains(out, "direct_connect_interface: eth1 needs a static address") {
		t.Errorf("no validation reason:\n%s", out)
	}
}

func TestEndOfInputAborts(t *testing.T) {
	if _, _, err := run(t, config.Default(), false, "", "mse1"); !errors.Is(err, ErrAborted) {
		t.Errorf("err %v, want ErrAborted", err)
	}
}

func TestParseMask(t *testing.T) {
	for in, want := range map[string]int{"255.255.255.0": 24, "/16": 16, "30": 30, "255.255.255.252": 30} {
		if got, err := parseMask(in); err != nil || got != want {
			t.Errorf("parseMask(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"255.0.255.0", "33", "x", "1.2.3"} {
		if _, err := parseMask(bad); err == nil {
			t.Errorf("parseMask(%q) accepted", bad)
		}
	}
	if maskString(24) != "255.255.255.0" || maskString(30) != "255.255.255.252" {
		t.Error("maskString")
	}
}

// TestPasswordStep: a new appliance must get a password; a weak one or two
// that differ are re-asked with the reason; a configured appliance keeps
// its hash unless the operator changes it.
func TestPasswordStep(t *testing.T) {
	skipRest := []string{"s", "s", "s", "s", "s", "s", "s", "s", "yes"}
	wizard := func(cur config.Appliance, answers ...string) (config.Appliance, string) {
		t.Helper()
		var out strings.Builder
		w := &Wizard{In: strings.NewReader(strings.Join(append(answers, skipRest...), "\n") + "\n"), Out: &out, Current: cur}
		a, err := w.Run()
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		return a, out.String()
	}
	a, out := wizard(config.Default(), "", "short-1", "onlylowercaseletters", "Password-2026", "Good-pass-1", "Good-pass-2", "Good-pass-1", "Good-pass-1")
	for _, reason := range []string{
		"Invalid answer: the password must have at least 10 characters (this one has 0). Please try again.",
		"Invalid answer: the password must have at least 10 characters (this one has 7). Please try again.",
		"Invalid answer: the password must mix at least two kinds of character",
		`Invalid answer: the password must not be a variation of "password". Please try again.`,
		"Invalid answer: the two passwords differ. Please try again.",
	} {
		if !strings.Contains(out, reason) {
			t.Errorf("transcript lacks %q", reason)
		}
	}
	if strings.Contains(out, "Good-pass") {
		t.Error("the transcript shows the password")
	}
	if !config.CheckPassword(a.PasswordHash, "Good-pass-1") {
		t.Fatalf("hash %q is not Good-pass-1's", a.PasswordHash)
	}
	kept, out := wizard(a, "")
	if kept.PasswordHash != a.PasswordHash || !strings.Contains(out, "The administrator password is set.\nChange the administrator password? (yes/no) [no]: ") {
		t.Errorf("Enter at the change prompt: hash %q (was %q)\n%s", kept.PasswordHash, a.PasswordHash, out)
	}
	changed, _ := wizard(a, "yes", "Better-pass-2", "Better-pass-2")
	if !config.CheckPassword(changed.PasswordHash, "Better-pass-2") {
		t.Errorf("changed hash %q is not Better-pass-2's", changed.PasswordHash)
	}
}
