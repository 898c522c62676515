package main

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/ptytest"
)

// With HAFW_TEST_SETUP=1 the test binary is the setup command itself, so
// that the test can run it on a pseudo-terminal.
func TestMain(m *testing.M) {
	if os.Getenv("HAFW_TEST_SETUP") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startSetup runs the setup command on a new pseudo-terminal with the
// given configuration file and (absent) control socket.
func startSetup(t *testing.T, cfgPath, socket string) *ptytest.Terminal {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-config", cfgPath, "-control", socket)
	cmd.Env = append(os.Environ(), "HAFW_TEST_SETUP=1")
	return ptytest.Start(t, cmd)
}

// TestWizardOnPseudoTerminal types the seed's primary set-up at a real
// terminal, with wrong answers on the way (invalid IP, VIP equal to the
// health-monitor IP, VIP outside the eth0 subnet, unknown interface), and
// checks each is re-asked with its reason and the result is saved.
func TestWizardOnPseudoTerminal(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config", "appliance.json")
	// The appliance already has eth0 10.10.10.12/24 (say from first boot).
	cur := config.Default()
	cur.Eth0 = config.Interface{Enabled: true, Address: netip.MustParsePrefix("10.10.10.12/24"), Gateway: netip.MustParseAddr("10.10.10.1")}
	if err := config.Save(cfgPath, cur); err != nil {
		t.Fatal(err)
	}
	term := startSetup(t, cfgPath, filepath.Join(dir, "no-agent.sock"))

	// The password first: too short, then two that differ, each re-asked
	// with the reason; nothing typed is echoed.
	term.Expect("No administrator password is set.")
	term.Answer("Enter the administrator password: ", "weak")
	term.Expect("Invalid answer: the password must have at least 10 characters (this one has 4). Please try again.")
	term.Answer("Enter the administrator password: ", testPassword)
	term.Answer("Enter the administrator password again: ", "Setup-pass-2")
	term.Expect("Invalid answer: the two passwords differ. Please try again.")
	term.Answer("Enter the administrator password: ", testPassword)
	term.Answer("Enter the administrator password again: ", testPassword)
	term.Answer("Configure hostname? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.Answer("Enter a host name [mse]: ", "1mse")
	term.Expect("Invalid answer: \"1mse\" must start with a letter")
	term.Answer("Enter a host name [mse]: ", "mse1")
	term.Answer("Configure domain name? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.Answer("Configure High Availability? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.Answer("Select role [1 for Primary, 2 for Secondary] [1]: ", "1")
	term.Answer("Select Health Monitor Interface [eth0/eth1] [eth0]: ", "eth2")
	term.Expect(`Invalid answer: unknown interface "eth2": choose one of eth0, eth1.`)
	term.Answer("Select Health Monitor Interface [eth0/eth1] [eth0]: ", "")
	term.Answer("Select direct connect interface [eth0/eth1/none] [none]: ", "")
	term.Answer("Enter Virtual IP address: ", "10.10.10.256")
	term.Expect(`Invalid answer: "10.10.10.256" is not a valid IPv4 address.`)
	term.Answer("Enter Virtual IP address: ", "10.10.10.12")
	term.Expect("Invalid answer: the virtual IP 10.10.10.12 must differ from the health monitor IP 10.10.10.12.")
	term.Answer("Enter Virtual IP address: ", "10.10.20.11")
	term.Expect("Invalid answer: the virtual IP 10.10.20.11 is not on the health monitor subnet 10.10.10.0/24.")
	term.Answer("Enter Virtual IP address: ", "10.10.10.11")
	term.Answer("Enter network mask [255.255.255.0]: ", "255.255.255.0")
	term.Answer("Do you wish to start this MSE in HA recovery mode ?: (yes/no) [no]: ", "no")
	term.Answer("Configure eth0 interface parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.Answer("Enter eth0 IP address [10.10.10.12]: ", "10.10.10.11")
	term.Expect("Invalid answer: the health monitor IP must differ from the virtual IP 10.10.10.11.")
	term.Answer("Enter eth0 IP address [10.10.10.12]: ", "")
	term.Answer("Enter network mask [255.255.255.0]: ", "")
	term.Answer("Enter default gateway address [10.10.10.1]: ", "10.10.11.1")
	term.Expect("Invalid answer: 10.10.11.1 is not reachable from 10.10.10.12/24.")
	term.Answer("Enter default gateway address [10.10.10.1]: ", "")
	term.Answer("Configure eth1 interface parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.Answer("Configure DNS related parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.Answer("Configure timezone? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.Answer("#? ", "11")
	term.Answer("Configure NTP related parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.Answer("Enable NTP (yes/no) [no]: ", "yes")
	term.Answer("Enter NTP server name or address: ", "10.10.10.10")
	term.Answer("Enter another NTP server name or address (or none) [none]: ", "")
	term.Expect("-----BEGIN-----")
	term.Expect("Role=1, Health Monitor Interface=eth0, Direct connect interface=none")
	term.Expect("Virtual IP Address=10.10.10.11, Virtual IP Netmask=255.255.255.0")
	term.Expect("-----END-----")
	term.Answer("Is the above information correct (yes, no, or ^): ", "yes")
	term.Expect("Configuration saved to " + cfgPath)
	term.Expect("The init agent is not running; the configuration takes effect at the next boot.")
	term.Wait()

	got, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if out := term.Output(); strings.Contains(out, "weak") || strings.Contains(out, "Setup-pass") {
		t.Errorf("the terminal echoed a password:\n%s", out)
	}
	if !config.CheckPassword(got.PasswordHash, testPassword) {
		t.Errorf("stored password hash %q is not the typed password's", got.PasswordHash)
	}
	if got.Hostname != "mse1" || got.Role != config.RolePrimary || got.VIP != netip.MustParsePrefix("10.10.10.11/24") ||
		got.Eth0.Address != netip.MustParsePrefix("10.10.10.12/24") || len(got.NTPServers) != 1 || got.Timezone != "UTC" {
		t.Errorf("saved configuration %+v", got)
	}
}

// TestAbortedWizardKeepsStoredConfiguration: input ending early (ctrl-D)
// saves nothing.
func TestAbortedWizardKeepsStoredConfiguration(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "appliance.json")
	if err := config.Save(cfgPath, config.Default()); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(cfgPath)
	var out bytes.Buffer
	err := run([]string{"-config", cfgPath, "-control", filepath.Join(dir, "none.sock")}, strings.NewReader("\nother-name\n"), &out)
	if err == nil {
		t.Fatal("aborted wizard reported success")
	}
	after, _ := os.ReadFile(cfgPath)
	if !bytes.Equal(before, after) {
		t.Error("aborted wizard changed the stored configuration")
	}
}

// TestWizardMenusOnPseudoTerminal takes a primary out of HA with "none"
// at the seed's role prompt, picks Europe/Brussels from the seed's
// continent menu and its zone list, and turns NTP off, which asks for the
// date and time (a wrong one is re-asked; Enter keeps the host clock, so
// the test never changes it).
func TestWizardMenusOnPseudoTerminal(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "appliance.json")
	cur := config.Default()
	cur.Hostname, cur.Role = "mse1", config.RolePrimary
	cur.Eth0 = config.Interface{Enabled: true, Address: netip.MustParsePrefix("10.10.10.12/24"), Gateway: netip.MustParseAddr("10.10.10.1")}
	cur.VIP = netip.MustParsePrefix("10.10.10.11/24")
	cur.NTPServers = []string{"10.10.10.10"}
	var err error
	if cur.PasswordHash, err = config.HashPasswordCost(testPassword, 1000); err != nil {
		t.Fatal(err)
	}
	if err := config.Save(cfgPath, cur); err != nil {
		t.Fatal(err)
	}
	term := startSetup(t, cfgPath, filepath.Join(dir, "no-agent.sock"))

	term.Answer("The administrator password is set.\r\nChange the administrator password? (yes/no) [no]: ", "")

	term.Answer("Configure hostname? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.Answer("Configure domain name? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.Answer("Current role=[Primary]\r\nConfigure High Availability? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.Answer("Select role [1 for Primary, 2 for Secondary] [1]: ", "3")
	term.Expect("Invalid answer: enter 1 for Primary or 2 for Secondary (or none for no HA role).")
	term.Answer("Select role [1 for Primary, 2 for Secondary] [1]: ", "none")
	term.Answer("Configure eth0 interface parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.Answer("Configure eth1 interface parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.Answer("Configure DNS related parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.Answer("Configure timezone? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.Expect("Please select a continent or ocean.\r\n 1) Africa\r\n 2) Americas\r\n")
	term.Answer("12) Return to previous setup step (^).\r\n#? ", "13")
	term.Expect("Invalid answer: enter a number from 1 to 12.")
	term.Answer("#? ", "8")
	term.Expect("Please select one of the following time zone regions.")
	term.Expect(") Europe/Zurich\r\n#? ")
	n := menuNumber(t, term, "Europe/Brussels")
	term.Type(n)
	term.Expect("Therefore TZ='Europe/Brussels' will be used.")
	term.Answer("Is the above information OK?\r\n 1) Yes\r\n 2) No\r\n#? ", "1")
	term.Answer("Configure NTP related parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.Answer("Enable NTP (yes/no) [yes]: ", "no")
	term.Answer("Enter the current date and time (YYYY-MM-DD HH:MM:SS, Europe/Brussels) [", "yesterday")
	term.Expect(`Invalid answer: "yesterday" is not a date and time in the form YYYY-MM-DD HH:MM:SS.`)
	term.Answer("Enter the current date and time (YYYY-MM-DD HH:MM:SS, Europe/Brussels) [", "")
	term.Expect("Role=none, Health Monitor Interface=eth0")
	term.Expect("Time zone=Europe/Brussels\r\nEnable NTP=no\r\n-----END-----")
	term.Answer("Is the above information correct (yes, no, or ^): ", "yes")
	term.Expect("Configuration saved to " + cfgPath)
	term.Wait()
	if out := term.Output(); strings.Contains(out, "The clock") {
		t.Errorf("Enter at the date prompt touched the clock:\n%s", out)
	}

	got, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if got.Role != config.RoleNone || got.VIP.IsValid() || got.Timezone != "Europe/Brussels" || len(got.NTPServers) != 0 || got.Hostname != "mse1" || got.PasswordHash != cur.PasswordHash {
		t.Errorf("saved configuration %+v", got)
	}
}

// menuNumber is the number the last menu shown gives zone.
func menuNumber(t *testing.T, term *ptytest.Terminal, zone string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^ *(\d+)\) `+regexp.QuoteMeta(zone)+"\r$").FindAllStringSubmatch(term.Output(), -1)
	if len(m) == 0 {
		t.Fatalf("no menu entry for %s", zone)
	}
	return m[len(m)-1][1]
}

// TestInterruptAtThePasswordGivesTheEchoBack: ctrl-C at the hidden
// password prompt ends setup with nothing saved and the terminal echoing
// again (killed by the signal's default action it stayed silent).
func TestInterruptAtThePasswordGivesTheEchoBack(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "appliance.json")
	term := startSetup(t, cfgPath, filepath.Join(dir, "no-agent.sock"))
	term.Expect("Enter the administrator password: ")
	// ReadPassword turns the echo off just after the prompt is written.
	deadline := time.Now().Add(ptytest.Timeout)
	for term.Echo() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if term.Echo() {
		t.Fatal("the echo is on at the password prompt")
	}
	term.Send("\x03")
	term.Expect("interrupted; nothing was changed.")
	var ee *exec.ExitError
	if err := term.Exit(); !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("setup exited %v, want status 130", err)
	}
	if !term.Echo() {
		t.Error("the terminal was left without echo")
	}
	if _, err := os.Stat(cfgPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a configuration was saved: %v", err)
	}
}
