// Package snmptest runs net-snmp's snmptrapd for tests: a real SNMP manager
// that receives the appliance's traps and informs, decodes them with
// HAFW-MIB loaded, and prints one line per notification.
package snmptest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/testenv"
)

// User is an SNMPv3 USM user of the receiver (authPriv, SHA and AES).
type User struct {
	Name, AuthKey, PrivKey string
	// EngineID (hex) is the sender's engine for traps; empty for informs,
	// whose authoritative engine is the receiver.
	EngineID string
}

// Config is the receiver's configuration.
type Config struct {
	// Listen is the UDP address, "IP:port".
	Listen    string
	Community string
	Users     []User
}

// Trapd is a running snmptrapd.
type Trapd struct {
	proc *netnstest.Proc
}

// MIBDir is the repository's MIB directory; its testdata/ holds minimal
// stand-ins of the IETF base modules HAFW-MIB imports (Debian does not
// ship them: they are in its non-free snmp-mibs-downloader).
func MIBDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "dist", "mib")
}

// Start runs snmptrapd with cfg, in ns or (nil) in the test's own network
// namespace; it fails the test if the receiver does not come up.
func Start(t testing.TB, ns *netnstest.NS, cfg Config) *Trapd {
	t.Helper()
	testenv.RequireCommand(t, "snmptrapd")
	dir := t.TempDir()
	var conf strings.Builder
	if cfg.Community != "" {
		fmt.Fprintf(&conf, "authCommunity log %s\n", cfg.Community)
	}
	for _, u := range cfg.Users {
		engine := ""
		if u.EngineID != "" {
			engine = "-e 0x" + u.EngineID + " "
		}
		fmt.Fprintf(&conf, "createUser %s%s SHA %q AES %q\nauthUser log %s priv\n", engine, u.Name, u.AuthKey, u.PrivKey, u.Name)
	}
	confPath := filepath.Join(dir, "snmptrapd.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	mibs := MIBDir()
	args := []string{"SNMP_PERSISTENT_DIR=" + dir, "MIBDIRS=" + filepath.Join(mibs, "testdata") + ":" + mibs,
		"snmptrapd", "-f", "-C", "-c", confPath, "-Lo", "-n", "-m", "HAFW-MIB",
		"-F", "TRAP %v\n", "udp:" + cfg.Listen}
	d := &Trapd{}
	if ns != nil {
		d.proc = ns.Start("env", args...)
	} else {
		d.proc = netnstest.StartHere(t, "env", args...)
	}
	netnstest.Eventually(t, 10*time.Second, "snmptrapd to start", func() bool {
		select {
		case <-d.proc.Exited():
			t.Fatalf("snmptrapd exited: %v\n%s", d.proc.Err(), d.Output())
		default:
		}
		return strings.Contains(d.Output(), "NET-SNMP version")
	})
	return d
}

// Traps returns the notifications received so far, one decoded line each
// (the variable bindings, tab-separated).
func (d *Trapd) Traps() []string {
	var out []string
	for _, line := range strings.Split(d.Output(), "\n") {
		if v, ok := strings.CutPrefix(line, "TRAP "); ok {
			out = append(out, v)
		}
	}
	return out
}

// Output is everything snmptrapd printed.
func (d *Trapd) Output() string { return d.proc.Output() }
