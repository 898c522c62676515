package image

import (
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/internal/testenv"
	"github.com/hafw/hafw/internal/vmtest"
	"github.com/hafw/hafw/upgrade"
)

// commandTimeout bounds one command typed on the console's operator
// shell: one emulated CPU, and on a busy host (the suite beside two CPU
// hogs) starting a large static binary under TCG took over a minute, and
// the password check behind the shell's prompt once more than three.
const commandTimeout = 5 * time.Minute

// consolePassword is the administrator password of primaryBuild's
// configuration; the operator shell on the console asks for it.
const consolePassword = "console-Test-1"

// primaryBuild is the 3355 raw image with a pre-staged HA primary
// configuration (so that a normal boot's role differs from recovery's
// none) and an administrator password (so that the console offers the
// operator shell).
func primaryBuild(t testing.TB) (string, *Manifest) {
	o := testOptions(t, "3355")
	a := config.Default()
	a.Hostname = "lab3355p"
	a.Role = config.RolePrimary
	a.Eth0 = config.Interface{Enabled: true, Address: netip.MustParsePrefix("10.212.0.10/24")}
	a.VIP = netip.MustParsePrefix("10.212.0.20/24")
	// A cheaper hash than the product's: the appliance checks it with the
	// same code, but 600k iterations take minutes under TCG on a busy host.
	hash, err := config.HashPasswordCost(consolePassword, 20_000)
	if err != nil {
		t.Fatal(err)
	}
	a.PasswordHash = hash
	data, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	o.ConfigFile = filepath.Join(t.TempDir(), "appliance.json")
	if err := os.WriteFile(o.ConfigFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return build(t, "3355-primary", o)
}

// bootConsole follows a VM's console across reboots: each wait matches only
// what came after the previous one.
type bootConsole struct {
	t    *testing.T
	vm   *vmtest.VM
	from int
}

// wait returns the submatches of re's first match after the last wait's.
func (c *bootConsole) wait(re *regexp.Regexp, timeout time.Duration) []string {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := c.vm.Console()
		if loc := re.FindStringSubmatchIndex(out[c.from:]); loc != nil {
			m := make([]string, len(loc)/2)
			for i := range m {
				if loc[2*i] >= 0 {
					m[i] = out[c.from+loc[2*i] : c.from+loc[2*i+1]]
				}
			}
			c.from += loc[1]
			return m
		}
		if exited, err := c.vm.Exited(); exited {
			c.t.Fatalf("QEMU exited (%v) before %q; console tail:\n%s", err, re, c.vm.Tail(40))
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no %q within %s; console tail:\n%s", re, timeout, c.vm.Tail(40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// run logs into the console's operator shell and types command in it.
// A guest slowed down by a busy host loses serial input (the UART's FIFO
// overruns while the line editor is still starting or redrawing), so the
// command is typed a key at a time once the editor has drawn its prompt,
// and Enter goes only after the whole line has come back as the echo;
// a garbled line is cleared (Ctrl-C) and typed again.
func (c *bootConsole) run(command string) {
	c.t.Helper()
	c.wait(regexp.MustCompile(`hafw-console: press Enter for an operator shell`), bootTimeout)
	c.typeText("\n")
	c.wait(regexp.MustCompile(`Password: `), commandTimeout)
	c.typeText(consolePassword + "\n")
	c.wait(regexp.MustCompile(`hafw-console: shell started`), commandTimeout)
	c.wait(regexp.MustCompile(`toggle key help`), commandTimeout)
	echo := regexp.MustCompile(`> ` + regexp.QuoteMeta(command) + `\s*$`)
	for try := 1; ; try++ {
		for _, r := range command {
			c.typeText(string(r))
			time.Sleep(20 * time.Millisecond)
		}
		if c.echoed(echo, time.Minute) {
			break
		}
		if try == 3 {
			c.t.Fatalf("the operator shell never echoed %q whole; console tail:\n%s", command, c.vm.Tail(20))
		}
		c.typeText("\x03") // the line editor's "clear"
		time.Sleep(time.Second)
	}
	c.typeText("\n")
}

// echoed reports whether the console's last line (the line editor's last
// redraw, its ANSI sequences removed) matches re within timeout.
func (c *bootConsole) echoed(re *regexp.Regexp, timeout time.Duration) bool {
	ansi := regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out := ansi.ReplaceAllString(c.vm.Console()[c.from:], "")
		lines := strings.Split(strings.TrimRight(out, " \r\n"), "\n")
		if re.MatchString(strings.TrimRight(lines[len(lines)-1], " \r")) {
			return true
		}
	}
	return false
}

func (c *bootConsole) typeText(s string) {
	c.t.Helper()
	if err := c.vm.Type(s); err != nil {
		c.t.Fatal(err)
	}
}

// ready waits for the next whole ready line and checks host and role.
func (c *bootConsole) ready(role string) []string {
	c.t.Helper()
	got := c.wait(regexp.MustCompile(readyRE.String()+`\r?\n`), bootTimeout)
	if got[1] != "lab3355p" || got[2] != "3355" || got[3] != role || got[4] != "10.212.0.10/24" {
		c.t.Fatalf("ready line %q, want host=lab3355p profile=3355 role=%s eth0=10.212.0.10/24", got[0], role)
	}
	return got
}

// rebootingVM boots disk through OVMF with a private variable store, in a
// QEMU that resets on a guest reboot (vmtest's -no-reboot is overridden:
// the one-shot entry lives in the variables of this very machine).
func rebootingVM(t *testing.T, disk string) *vmtest.VM {
	return vmtest.Start(t, vmtest.Options{EFI: true,
		Disks: []vmtest.Disk{{Path: disk}},
		NICs:  []vmtest.NIC{{Model: "virtio-net-pci"}, {Model: "virtio-net-pci"}},
		Extra: []string{"-action", "reboot=reset"},
	})
}

var recoveryRequested = regexp.MustCompile(`hafw-recovery: recovery mode requested by`)

// TestBoot3355RebootRecoveryOneShot proves `hafw reboot --recovery` against
// real UEFI variables: a normal boot takes the configured primary role; the
// command, typed into the console's operator shell, sets systemd-boot's
// one-shot entry and reboots; systemd-boot picks the recovery entry (the
// init agent's recovery lines, role none); `hafw reboot` from there comes
// back to the normal entry and the primary role.
func TestBoot3355RebootRecoveryOneShot(t *testing.T) {
	testenv.Short(t, "QEMU boot")
	vmtest.Require(t, true)
	dir, m := primaryBuild(t)
	t.Parallel()
	c := &bootConsole{t: t, vm: rebootingVM(t, output(t, dir, m, ".img"))}

	first := c.ready("primary")
	if strings.Contains(c.vm.Console()[:c.from], "hafw-recovery:") {
		t.Fatalf("normal boot printed recovery lines:\n%s", c.vm.Console())
	}
	c.run("hafw reboot --recovery")
	c.wait(regexp.MustCompile(`next boot, once: hafw-a-recovery\.conf \(booted from hafw-a\.conf\)`), commandTimeout)
	start := time.Now()
	c.wait(recoveryRequested, bootTimeout)
	second := c.ready("none")
	t.Logf("recovery boot %s after the command: %s (first boot: %s)", time.Since(start).Round(time.Second), strings.TrimSpace(second[0]), strings.TrimSpace(first[0]))

	c.run("hafw reboot")
	mark := c.from
	third := c.ready("primary")
	if strings.Contains(c.vm.Console()[mark:c.from], "hafw-recovery:") {
		t.Fatalf("the boot after the recovery boot was a recovery boot again:\n%s", c.vm.Console()[mark:])
	}
	t.Logf("next boot normal again: %s", strings.TrimSpace(third[0]))
}

// TestBoot3355MenuRecovery picks "recovery" in systemd-boot's menu by typing
// on the serial console (OVMF's terminal turns the VT100 arrow sequence
// into a key press) within the menu's timeout, as an engineer in the field
// would, and sees the recovery boot.
func TestBoot3355MenuRecovery(t *testing.T) {
	testenv.Short(t, "QEMU boot")
	vmtest.Require(t, true)
	dir, m := primaryBuild(t)
	t.Parallel()
	c := &bootConsole{t: t, vm: rebootingVM(t, output(t, dir, m, ".img"))}

	// The menu lists both entries of slot A; the normal one is highlighted.
	normal := upgrade.EntryTitle(m.Profile, m.Version, "a", false)
	recovery := upgrade.EntryTitle(m.Profile, m.Version, "a", true)
	c.wait(regexp.MustCompile(`(?s)`+regexp.QuoteMeta(normal)+`.*`+regexp.QuoteMeta(recovery)+`|`+
		regexp.QuoteMeta(recovery)+`.*`+regexp.QuoteMeta(normal)), bootTimeout)
	menu := c.vm.Console()
	key := "\x1b[B" // down
	if strings.Index(menu, recovery) < strings.Index(menu, normal) {
		key = "\x1b[A" // up
	}
	c.typeText(key)
	time.Sleep(300 * time.Millisecond) // OVMF tells a lone ESC from a sequence by timing
	c.typeText("\r")
	c.wait(recoveryRequested, bootTimeout)
	got := c.ready("none")
	t.Logf("recovery chosen in the menu (%q): %s", key, strings.TrimSpace(got[0]))
}
