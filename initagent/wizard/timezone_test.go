package wizard

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
)

// skipTo is the answers that skip every section before the timezone.
var skipTo = []string{"s", "s", "s", "s", "s", "s"}

func answers(parts ...[]string) []string { return slices.Concat(parts...) }

// zoneNumber is the menu number of zone in its area's list.
func zoneNumber(t *testing.T, prefix, zone string) string {
	t.Helper()
	i := slices.Index(zonesIn(prefix), zone)
	if i < 0 {
		t.Fatalf("%s not in the %s list", zone, prefix)
	}
	return fmt.Sprint(i + 1)
}

func TestZoneTableIsUsable(t *testing.T) {
	all := strings.Fields(zonesTxt)
	if len(all) < 300 {
		t.Fatalf("zone table has %d names", len(all))
	}
	for _, z := range all {
		if !slices.ContainsFunc(areas[:], func(a area) bool { return strings.HasPrefix(z, a.prefix) }) {
			t.Errorf("%s is in no menu area", z)
		}
		probe := config.Default()
		probe.Timezone = z
		if err := fieldErr(probe.Validate(), "timezone"); err != nil {
			t.Errorf("%s: %v", z, err)
		}
	}
	for _, a := range areas {
		if len(zonesIn(a.prefix)) == 0 {
			t.Errorf("area %s has no zones", a.label)
		}
	}
}

func TestTimezoneMenu(t *testing.T) {
	brussels := zoneNumber(t, "Europe/", "Europe/Brussels")
	a, out, err := run(t, config.Default(), false, answers(skipTo, []string{
		"",       // configure timezone
		"13",     // not in the menu
		"8",      // Europe
		"^",      // back to the continent menu
		"8", "0", // Europe, not in the list
		brussels,                // Europe/Brussels
		"2",                     // "No": the continent menu again
		"8", brussels, "3", "1", // Europe/Brussels, a wrong answer, Yes
		"s", "yes", // NTP, confirm
	})...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if a.Timezone != "Europe/Brussels" {
		t.Errorf("timezone %q", a.Timezone)
	}
	for _, want := range []string{
		"Current timezone=[UTC]\nConfigure timezone? (Y)es/(S)kip/(U)se default [Yes]: Enter the current date and time.\n" +
			"Please identify a location so that time zone rules can be set correctly.\nPlease select a continent or ocean.\n" +
			" 1) Africa\n 2) Americas\n 3) Antarctica\n 4) Arctic Ocean\n 5) Asia\n 6) Atlantic Ocean\n 7) Australia\n" +
			" 8) Europe\n 9) Indian Ocean\n10) Pacific Ocean\n11) UTC - I want to use Coordinated Universal Time.\n" +
			"12) Return to previous setup step (^).\n#? ",
		"Invalid answer: enter a number from 1 to 12. Please try again.\n#? ",
		fmt.Sprintf("Invalid answer: enter a number from 1 to %d. Please try again.", len(zonesIn("Europe/"))),
		brussels + ") Europe/Brussels\n",
		"Therefore TZ='Europe/Brussels' will be used.\nIs the above information OK?\n 1) Yes\n 2) No\n#? ",
		"Invalid answer: enter a number from 1 to 2. Please try again.",
		"Time zone=Europe/Brussels\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	if n := strings.Count(out, "Please select a continent or ocean."); n != 3 {
		t.Errorf("continent menu shown %d times, want 3 (start, after ^, after No)", n)
	}
}

func TestTimezoneUTCAndBack(t *testing.T) {
	cur := config.Default()
	cur.Timezone = "America/New_York"
	// 12 returns to the DNS step, which is asked again; then 11 is UTC
	// straight away, as in the seed ("#? 11" then the NTP section).
	a, out, err := run(t, cur, false, answers(skipTo, []string{"", "12", "s", "", "11", "s", "yes"})...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if a.Timezone != "UTC" {
		t.Errorf("timezone %q, want UTC", a.Timezone)
	}
	if n := strings.Count(out, "Configure DNS related parameters?"); n != 2 {
		t.Errorf("DNS asked %d times, want 2", n)
	}
	if strings.Contains(out, "Is the above information OK?") {
		t.Error("UTC asked for a confirmation the seed does not show")
	}
	// "^" at the continent menu also goes back a step.
	_, out, err = run(t, cur, false, answers(skipTo, []string{"", "^", "s", "s", "s", "yes"})...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if n := strings.Count(out, "Configure DNS related parameters?"); n != 2 {
		t.Errorf("after ^ DNS asked %d times, want 2", n)
	}
}

// primaryConfig is a valid primary configuration.
func primaryConfig(t *testing.T) config.Appliance {
	t.Helper()
	a, out, err := run(t, config.Default(), false, primaryAnswers()...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return a
}

func TestRoleNone(t *testing.T) {
	// "none" at the seed's role prompt takes a primary out of HA: no
	// health-monitor, direct-connect or VIP questions, the VIP is dropped.
	a, out, err := run(t, primaryConfig(t), false, "s", "s", "", "none", "s", "s", "s", "s", "s", "yes")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if a.Role != config.RoleNone || a.VIP.IsValid() || a.RecoveryMode {
		t.Errorf("role %s vip %v recovery %v", a.Role, a.VIP, a.RecoveryMode)
	}
	if strings.Contains(out, "Select Health Monitor Interface") {
		t.Error("health monitor interface asked without a role")
	}
	if !strings.Contains(out, "Role=none,") {
		t.Errorf("summary lacks Role=none:\n%s", out)
	}
	// Skip keeps the current role: none on an unconfigured box, primary
	// on a configured one.
	for _, cur := range []config.Appliance{config.Default(), primaryConfig(t)} {
		a, out, err := run(t, cur, false, "s", "s", "s", "s", "s", "s", "s", "s", "yes")
		if err != nil || a.Role != cur.Role {
			t.Errorf("skip: role %s (was %s), err %v\n%s", a.Role, cur.Role, err, out)
		}
	}
}

// stepClock records the steps it is asked for.
type stepClock struct {
	steps []time.Duration
	err   error
}

func (c *stepClock) Step(d time.Duration) error {
	c.steps = append(c.steps, d)
	return c.err
}

func TestDateAndTimeWhenNTPIsOff(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	wizard := func(clock Clock, cur config.Appliance, ans ...string) (config.Appliance, string, error) {
		var out strings.Builder
		w := &Wizard{In: strings.NewReader(strings.Join(withPassword(cur, ans), "\n") + "\n"), Out: &out, Current: cur,
			Clock: clock, Now: func() time.Time { return now }}
		a, err := w.Run()
		return a, out.String(), err
	}
	tokyo := config.Default()
	tokyo.Timezone = "Asia/Tokyo"
	tokyo.NTPServers = []string{"10.10.10.10"}
	skipAll := []string{"s", "s", "s", "s", "s", "s", "s"}

	// Wrong answers are re-asked; the time is read in the configured zone
	// (03:04:05 UTC is 12:04:05 in Tokyo) and applied after "yes".
	clock := &stepClock{}
	a, out, err := wizard(clock, tokyo, answers(skipAll, []string{"", "no",
		"2026-01-02 25:00:00", "1999-12-31 23:59:59", "2026-01-02 12:34:05", "yes"})...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"Enable NTP (yes/no) [yes]: Enter the current date and time (YYYY-MM-DD HH:MM:SS, Asia/Tokyo) [2026-01-02 12:04:05]: ",
		`Invalid answer: "2026-01-02 25:00:00" is not a date and time in the form YYYY-MM-DD HH:MM:SS. Please try again.`,
		"Invalid answer: the year 1999 is out of range (2000 to 2099). Please try again.",
		"Enable NTP=no\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	if len(a.NTPServers) != 0 || !slices.Equal(clock.steps, []time.Duration{30 * time.Minute}) {
		t.Errorf("ntp %v, clock steps %v, want [30m]", a.NTPServers, clock.steps)
	}

	// Enter keeps the clock; "Use default" (NTP off) asks for the time too.
	clock = &stepClock{}
	if _, out, err := wizard(clock, tokyo, answers(skipAll, []string{"u", "", "yes"})...); err != nil || len(clock.steps) != 0 {
		t.Errorf("err %v, steps %v\n%s", err, clock.steps, out)
	}

	// A time entered and then undone ("^" at the summary, NTP skipped) or
	// never confirmed (input ends) is not applied.
	clock = &stepClock{}
	if _, out, err := wizard(clock, tokyo, answers(skipAll, []string{"", "no", "2026-01-02 13:00:00", "^", "s", "yes"})...); err != nil || len(clock.steps) != 0 {
		t.Errorf("undone: err %v, steps %v\n%s", err, clock.steps, out)
	}
	if _, _, err := wizard(clock, tokyo, answers(skipAll, []string{"", "no", "2026-01-02 13:00:00"})...); !errors.Is(err, ErrAborted) || len(clock.steps) != 0 {
		t.Errorf("aborted: err %v, steps %v", err, clock.steps)
	}

	// A clock that cannot be set is reported; the configuration stands.
	clock = &stepClock{err: errors.New("operation not permitted")}
	a, out, err = wizard(clock, tokyo, answers(skipAll, []string{"", "no", "2026-01-02 12:05:05", "yes"})...)
	if err != nil || !strings.Contains(out, "The clock could not be set: operation not permitted") || len(a.NTPServers) != 0 {
		t.Errorf("err %v, ntp %v\n%s", err, a.NTPServers, out)
	}
}
