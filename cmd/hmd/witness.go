package main

import (
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/hafw/hafw/hmd/daemon"
)

// witnessFlags name the node a secondary asks before an automatic takeover.
type witnessFlags struct {
	addr, passwordFile, pin string
}

// witness reads the flags; the password comes from a file so that it is
// not visible in the process list.
func (f witnessFlags) witness() (daemon.Witness, error) {
	if f.addr == "" {
		if f.passwordFile != "" || f.pin != "" {
			return daemon.Witness{}, fmt.Errorf("--witness-password-file and --witness-fingerprint need --witness")
		}
		return daemon.Witness{}, nil
	}
	ip, err := netip.ParseAddr(f.addr)
	if err != nil || !ip.Is4() {
		return daemon.Witness{}, fmt.Errorf("--witness %q is not an IPv4 address", f.addr)
	}
	if f.passwordFile == "" {
		return daemon.Witness{}, fmt.Errorf("--witness needs --witness-password-file (the witness's appliance password)")
	}
	data, err := os.ReadFile(f.passwordFile)
	if err != nil {
		return daemon.Witness{}, fmt.Errorf("read the witness password: %w", err)
	}
	pw := strings.TrimRight(string(data), "\r\n")
	if pw == "" {
		return daemon.Witness{}, fmt.Errorf("the witness password file %s is empty", f.passwordFile)
	}
	return daemon.Witness{Addr: ip, Password: pw, Pin: strings.ToLower(f.pin)}, nil
}
