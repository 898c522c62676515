package main

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/hafw/hafw/config"
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

// terminal is the operator's side of the pseudo-terminal.
type terminal struct {
	t    *testing.T
	f    *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	seen int // output already matched

	exited  chan struct{} // closed when the command has exited
	waitErr error         // the command's exit, once exited is closed
}

func (term *terminal) read() {
	buf := make([]byte, 4096)
	for {
		n, err := term.f.Read(buf)
		term.mu.Lock()
		term.out.Write(buf[:n])
		term.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// expect waits until want appears in output not yet matched.
func (term *terminal) expect(want string) {
	term.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		term.mu.Lock()
		rest := term.out.String()[term.seen:]
		if i := strings.Index(rest, want); i >= 0 {
			term.seen += i + len(want)
			term.mu.Unlock()
			return
		}
		term.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	term.mu.Lock()
	defer term.mu.Unlock()
	term.t.Fatalf("terminal never showed %q; after the last match it shows:\n%s", want, term.out.String()[term.seen:])
}

// answer waits for prompt and types the answer with Enter.
func (term *terminal) answer(prompt, typed string) {
	term.t.Helper()
	term.expect(prompt)
	if _, err := term.f.Write([]byte(typed + "\r")); err != nil {
		term.t.Fatal(err)
	}
}

// startSetup runs the setup command on a new pseudo-terminal with the
// given configuration file and (absent) control socket.
func startSetup(t *testing.T, cfgPath, socket string) *terminal {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-config", cfgPath, "-control", socket)
	cmd.Env = append(os.Environ(), "HAFW_TEST_SETUP=1")
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	term := &terminal{t: t, f: f, exited: make(chan struct{})}
	go term.read()
	go func() { term.waitErr = cmd.Wait(); close(term.exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-term.exited
		f.Close()
	})
	return term
}

// wait expects the command to exit successfully.
func (term *terminal) wait() {
	term.t.Helper()
	select {
	case <-term.exited:
		if term.waitErr != nil {
			term.t.Fatalf("setup exited: %v", term.waitErr)
		}
	case <-time.After(20 * time.Second):
		term.t.Fatal("setup did not exit")
	}
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

	term.answer("Configure hostname? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.answer("Enter a host name [mse]: ", "1mse")
	term.expect("Invalid answer: \"1mse\" must start with a letter")
	term.answer("Enter a host name [mse]: ", "mse1")
	term.answer("Configure domain name? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.answer("Configure High Availability? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.answer("Select role [1 for Primary, 2 for Secondary] [1]: ", "1")
	term.answer("Select Health Monitor Interface [eth0/eth1] [eth0]: ", "eth2")
	term.expect(`Invalid answer: unknown interface "eth2": choose one of eth0, eth1.`)
	term.answer("Select Health Monitor Interface [eth0/eth1] [eth0]: ", "")
	term.answer("Select direct connect interface [eth0/eth1/none] [none]: ", "")
	term.answer("Enter Virtual IP address: ", "10.10.10.256")
	term.expect(`Invalid answer: "10.10.10.256" is not a valid IPv4 address.`)
	term.answer("Enter Virtual IP address: ", "10.10.10.12")
	term.expect("Invalid answer: the virtual IP 10.10.10.12 must differ from the health monitor IP 10.10.10.12.")
	term.answer("Enter Virtual IP address: ", "10.10.20.11")
	term.expect("Invalid answer: the virtual IP 10.10.20.11 is not on the health monitor subnet 10.10.10.0/24.")
	term.answer("Enter Virtual IP address: ", "10.10.10.11")
	term.answer("Enter network mask [255.255.255.0]: ", "255.255.255.0")
	term.answer("Do you wish to start this MSE in HA recovery mode ?: (yes/no) [no]: ", "no")
	term.answer("Configure eth0 interface parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.answer("Enter eth0 IP address [10.10.10.12]: ", "10.10.10.11")
	term.expect("Invalid answer: the health monitor IP must differ from the virtual IP 10.10.10.11.")
	term.answer("Enter eth0 IP address [10.10.10.12]: ", "")
	term.answer("Enter network mask [255.255.255.0]: ", "")
	term.answer("Enter default gateway address [10.10.10.1]: ", "10.10.11.1")
	term.expect("Invalid answer: 10.10.11.1 is not reachable from 10.10.10.12/24.")
	term.answer("Enter default gateway address [10.10.10.1]: ", "")
	term.answer("Configure eth1 interface parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.answer("Configure DNS related parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.answer("Configure timezone? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.answer("#? ", "11")
	term.answer("Configure NTP related parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.answer("Enable NTP (yes/no) [no]: ", "yes")
	term.answer("Enter NTP server name or address: ", "10.10.10.10")
	term.answer("Enter another NTP server name or address (or none) [none]: ", "")
	term.expect("-----BEGIN-----")
	term.expect("Role=1, Health Monitor Interface=eth0, Direct connect interface=none")
	term.expect("Virtual IP Address=10.10.10.11, Virtual IP Netmask=255.255.255.0")
	term.expect("-----END-----")
	term.answer("Is the above information correct (yes, no, or ^): ", "yes")
	term.expect("Configuration saved to " + cfgPath)
	term.expect("The init agent is not running; the configuration takes effect at the next boot.")
	term.wait()

	got, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
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
	if err := config.Save(cfgPath, cur); err != nil {
		t.Fatal(err)
	}
	term := startSetup(t, cfgPath, filepath.Join(dir, "no-agent.sock"))

	term.answer("Configure hostname? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.answer("Configure domain name? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.answer("Current role=[Primary]\r\nConfigure High Availability? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.answer("Select role [1 for Primary, 2 for Secondary] [1]: ", "3")
	term.expect("Invalid answer: enter 1 for Primary or 2 for Secondary (or none for no HA role).")
	term.answer("Select role [1 for Primary, 2 for Secondary] [1]: ", "none")
	term.answer("Configure eth0 interface parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.answer("Configure eth1 interface parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.answer("Configure DNS related parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "s")
	term.answer("Configure timezone? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.expect("Please select a continent or ocean.\r\n 1) Africa\r\n 2) Americas\r\n")
	term.answer("12) Return to previous setup step (^).\r\n#? ", "13")
	term.expect("Invalid answer: enter a number from 1 to 12.")
	term.answer("#? ", "8")
	term.expect("Please select one of the following time zone regions.")
	term.expect(") Europe/Zurich\r\n#? ")
	n := term.menuNumber("Europe/Brussels")
	if _, err := term.f.Write([]byte(n + "\r")); err != nil {
		t.Fatal(err)
	}
	term.expect("Therefore TZ='Europe/Brussels' will be used.")
	term.answer("Is the above information OK?\r\n 1) Yes\r\n 2) No\r\n#? ", "1")
	term.answer("Configure NTP related parameters? (Y)es/(S)kip/(U)se default [Yes]: ", "")
	term.answer("Enable NTP (yes/no) [yes]: ", "no")
	term.answer("Enter the current date and time (YYYY-MM-DD HH:MM:SS, Europe/Brussels) [", "yesterday")
	term.expect(`Invalid answer: "yesterday" is not a date and time in the form YYYY-MM-DD HH:MM:SS.`)
	term.answer("Enter the current date and time (YYYY-MM-DD HH:MM:SS, Europe/Brussels) [", "")
	term.expect("Role=none, Health Monitor Interface=eth0")
	term.expect("Time zone=Europe/Brussels\r\nEnable NTP=no\r\n-----END-----")
	term.answer("Is the above information correct (yes, no, or ^): ", "yes")
	term.expect("Configuration saved to " + cfgPath)
	term.wait()
	term.mu.Lock()
	if strings.Contains(term.out.String(), "The clock") {
		t.Errorf("Enter at the date prompt touched the clock:\n%s", term.out.String())
	}
	term.mu.Unlock()

	got, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if got.Role != config.RoleNone || got.VIP.IsValid() || got.Timezone != "Europe/Brussels" || len(got.NTPServers) != 0 || got.Hostname != "mse1" {
		t.Errorf("saved configuration %+v", got)
	}
}

// menuNumber is the number the last menu shown gives zone.
func (term *terminal) menuNumber(zone string) string {
	term.t.Helper()
	term.mu.Lock()
	defer term.mu.Unlock()
	m := regexp.MustCompile(`(?m)^ *(\d+)\) `+regexp.QuoteMeta(zone)+"\r$").FindAllStringSubmatch(term.out.String(), -1)
	if len(m) == 0 {
		term.t.Fatalf("no menu entry for %s", zone)
	}
	return m[len(m)-1][1]
}
