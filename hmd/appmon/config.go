// Package appmon is hmd's application monitoring: the applications file
// (which programs the serving node runs, their health checks and the
// failure policy), the health checks themselves (HTTP GET, TCP connect,
// an exec'd command, each bounded by its timeout) and the pure policy
// that turns exits and check results into "this application failed" —
// the input of the state machine's AppFailed. The processes themselves
// run under internal/supervise, the same supervisor as the init agent's.
package appmon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults of the policy and of a health check.
const (
	DefaultMaxFailures = 3
	DefaultWindow      = 5 * time.Minute
	DefaultHoldDown    = 10 * time.Minute
	DefaultInterval    = 5 * time.Second
	DefaultTimeout     = 2 * time.Second
	DefaultRise        = 2
	DefaultFall        = 3
)

// Duration is a JSON duration string ("2s", "500ms").
type Duration time.Duration

// MarshalJSON encodes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON accepts a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`want a duration string such as "2s"`)
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a duration (such as \"2s\")", s)
	}
	*d = Duration(v)
	return nil
}

// Check is an application's health check: exactly one of HTTP (a URL that
// must answer GET with 2xx or 3xx), TCP (host:port that must accept a
// connection) or Exec (a command that must exit 0; its whole process group
// is killed at the timeout). Rise consecutive successes make the
// application healthy, Fall consecutive failures unhealthy.
type Check struct {
	HTTP     string   `json:"http,omitempty"`
	TCP      string   `json:"tcp,omitempty"`
	Exec     []string `json:"exec,omitempty"`
	Interval Duration `json:"interval,omitempty"`
	Timeout  Duration `json:"timeout,omitempty"`
	Rise     int      `json:"rise,omitempty"`
	Fall     int      `json:"fall,omitempty"`
}

// App is one application of the instance.
type App struct {
	Name    string   `json:"name"`
	Command []string `json:"command"`
	// Watchdog, when set, is the sd_notify watchdog period handed to the
	// application as WATCHDOG_USEC: a period without WATCHDOG=1 after
	// READY=1 is a hang, and the application is restarted.
	Watchdog Duration `json:"watchdog,omitempty"`
	Check    *Check   `json:"check,omitempty"`
	// User is who the application (and its exec health check) runs as:
	// empty for the appliance's unprivileged application account
	// (AppUID:AppGID), "root" for an application that cannot do without,
	// or "UID:GID". The image has no user database, hence numbers.
	User string `json:"user,omitempty"`
}

// The application account: what an application runs as unless its User
// says otherwise. Its group is also the one that may use the instance
// API socket, so an application given another UID keeps it as a
// supplementary group.
const (
	AppUID = 900
	AppGID = 900
)

// Identity is the UID and GID the application runs as (User validated).
func (a App) Identity() (uid, gid uint32) {
	uid, gid, _ = parseUser(a.User)
	return uid, gid
}

// Credential is what the application's processes are started with: nil
// (as hmd) when the application runs as root, or when hmd is not root —
// it then cannot change users, and is unprivileged itself. Otherwise the
// application's UID and GID, with the application group (AppGID) kept for
// the instance API socket.
func (a App) Credential() *syscall.Credential {
	uid, gid := a.Identity()
	if uid == 0 || os.Geteuid() != 0 {
		return nil
	}
	return &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{AppGID}}
}

// parseUser reads an App.User.
func parseUser(s string) (uid, gid uint32, err error) {
	switch s {
	case "":
		return AppUID, AppGID, nil
	case "root":
		return 0, 0, nil
	}
	u, g, ok := strings.Cut(s, ":")
	ui, uerr := strconv.ParseUint(u, 10, 32)
	gi, gerr := strconv.ParseUint(g, 10, 32)
	if !ok || uerr != nil || gerr != nil || ui > 65534 || gi > 65534 {
		return 0, 0, fmt.Errorf("%q: want root or UID:GID (numbers up to 65534; the image has no user names)", s)
	}
	return uint32(ui), uint32(gi), nil
}

// Policy says when failures of an application on the active node hand the
// service to the peer: MaxFailures (restarts or failed checks) within
// Window. HoldDown is how long the node then stays degraded.
type Policy struct {
	MaxFailures int      `json:"max_failures,omitempty"`
	Window      Duration `json:"window,omitempty"`
	HoldDown    Duration `json:"hold_down,omitempty"`
}

// Config is the applications file.
type Config struct {
	Applications []App  `json:"applications"`
	Policy       Policy `json:"policy"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Parse reads an applications file: JSON (Config), or the older plain
// form of one command line per line (# comments), which runs each
// command unchecked under the default policy, named after its program.
// Defaults are filled in; every error names the field it is about.
func Parse(data []byte) (Config, error) {
	var c Config
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return Config{}, fmt.Errorf("applications file: %w", err)
		}
		if dec.More() {
			return Config{}, errors.New("applications file: trailing data after the JSON object")
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			argv := strings.Fields(line)
			c.Applications = append(c.Applications, App{Name: strings.ToLower(filepath.Base(argv[0])), Command: argv})
		}
		if err := sc.Err(); err != nil {
			return Config{}, fmt.Errorf("applications file: %w", err)
		}
	}
	return c.withDefaults()
}

func (c Config) withDefaults() (Config, error) {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
	}
	p := &c.Policy
	switch {
	case p.MaxFailures == 0:
		p.MaxFailures = DefaultMaxFailures
	case p.MaxFailures < 1 || p.MaxFailures > 100:
		bad("policy.max_failures", "%d is out of range (1–100)", p.MaxFailures)
	}
	defDur(&p.Window, DefaultWindow, time.Second, 24*time.Hour, "policy.window", bad)
	defDur(&p.HoldDown, DefaultHoldDown, time.Second, 24*time.Hour, "policy.hold_down", bad)
	seen := map[string]bool{}
	for i := range c.Applications {
		a := &c.Applications[i]
		f := fmt.Sprintf("applications[%d]", i)
		if !nameRE.MatchString(a.Name) {
			bad(f+".name", "%q is not a name (lower-case letters, digits, - and _, up to 32)", a.Name)
		} else if seen[a.Name] {
			bad(f+".name", "%q is used twice", a.Name)
		}
		seen[a.Name] = true
		if len(a.Command) == 0 || a.Command[0] == "" {
			bad(f+".command", "is empty")
		} else if !filepath.IsAbs(a.Command[0]) {
			bad(f+".command", "%q must be an absolute path", a.Command[0])
		}
		if a.Watchdog != 0 && (a.Watchdog < Duration(100*time.Millisecond) || a.Watchdog > Duration(time.Hour)) {
			bad(f+".watchdog", "%s is out of range (100ms–1h)", time.Duration(a.Watchdog))
		}
		if a.Check != nil {
			a.Check.withDefaults(f+".check", bad)
		}
		if _, _, err := parseUser(a.User); err != nil {
			bad(f+".user", "%v", err)
		}
	}
	return c, errors.Join(errs...)
}

func (k *Check) withDefaults(f string, bad func(field, format string, a ...any)) {
	n := 0
	if k.HTTP != "" {
		n++
		if u, err := url.Parse(k.HTTP); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(f+".http", "%q is not an http(s) URL", k.HTTP)
		}
	}
	if k.TCP != "" {
		n++
		if _, _, err := net.SplitHostPort(k.TCP); err != nil {
			bad(f+".tcp", "%q is not host:port", k.TCP)
		}
	}
	if len(k.Exec) > 0 {
		n++
		if !filepath.IsAbs(k.Exec[0]) {
			bad(f+".exec", "%q must be an absolute path", k.Exec[0])
		}
	}
	if n != 1 {
		bad(f, "give exactly one of http, tcp and exec")
	}
	defDur(&k.Interval, DefaultInterval, 100*time.Millisecond, time.Hour, f+".interval", bad)
	defDur(&k.Timeout, DefaultTimeout, 10*time.Millisecond, time.Hour, f+".timeout", bad)
	if k.Timeout > k.Interval {
		bad(f+".timeout", "%s must not be longer than the interval %s", time.Duration(k.Timeout), time.Duration(k.Interval))
	}
	defInt(&k.Rise, DefaultRise, f+".rise", bad)
	defInt(&k.Fall, DefaultFall, f+".fall", bad)
}

func defDur(d *Duration, def, lo, hi time.Duration, field string, bad func(field, format string, a ...any)) {
	switch v := time.Duration(*d); {
	case v == 0:
		*d = Duration(def)
	case v < lo || v > hi:
		bad(field, "%s is out of range (%s–%s)", v, lo, hi)
	}
}

func defInt(n *int, def int, field string, bad func(field, format string, a ...any)) {
	switch {
	case *n == 0:
		*n = def
	case *n < 1 || *n > 100:
		bad(field, "%d is out of range (1–100)", *n)
	}
}
