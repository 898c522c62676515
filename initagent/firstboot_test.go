package initagent

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hafw/hafw/appliance"
	"github.com/hafw/hafw/config"
)

func TestApplyKeysPrimary(t *testing.T) {
	keys := map[string]string{
		"hostname": "mse-a", "role": "primary", "eth0": "10.210.0.5/24", "gw": "10.210.0.1",
		"eth1": "10.211.0.5/30", "dc": "eth1", "vip": "10.210.0.9/24", "dns": "10.210.0.2, 10.210.0.3",
		"ntp": "ntp1,ntp2", "tz": "Asia/Tokyo", "password": "s3cret-pass",
	}
	a, err := ApplyKeys(config.Default(), keys)
	if err != nil {
		t.Fatal(err)
	}
	if a.Hostname != "mse-a" || a.Role != config.RolePrimary || a.DirectConnectInterface != "eth1" || a.Timezone != "Asia/Tokyo" {
		t.Errorf("got %+v", a)
	}
	if a.Eth0 != (config.Interface{Enabled: true, Address: netip.MustParsePrefix("10.210.0.5/24"), Gateway: netip.MustParseAddr("10.210.0.1")}) {
		t.Errorf("eth0 = %+v", a.Eth0)
	}
	if len(a.DNSServers) != 2 || a.DNSServers[1] != netip.MustParseAddr("10.210.0.3") || len(a.NTPServers) != 2 {
		t.Errorf("dns %v ntp %v", a.DNSServers, a.NTPServers)
	}
	if !config.CheckPassword(a.PasswordHash, "s3cret-pass") {
		t.Errorf("password hash %q does not verify", a.PasswordHash)
	}
}

// The password key also takes a hash made beforehand (hafw hash-password
// or config.HashPassword), stored as given, so that the password itself is
// never on the kernel command line.
func TestApplyKeysPasswordHash(t *testing.T) {
	h, err := config.HashPasswordCost("s3cret-pass", 1000)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ApplyKeys(config.Default(), map[string]string{"password": h})
	if err != nil || a.PasswordHash != h || !config.CheckPassword(a.PasswordHash, "s3cret-pass") {
		t.Errorf("pre-hashed password: %q, %v", a.PasswordHash, err)
	}
	// Something that only looks like a hash is a password, hashed.
	a, err = ApplyKeys(config.Default(), map[string]string{"password": "pbkdf2-sha256$x$y$z"})
	if err != nil || a.PasswordHash == "pbkdf2-sha256$x$y$z" || !config.CheckPassword(a.PasswordHash, "pbkdf2-sha256$x$y$z") {
		t.Errorf("malformed hash: stored %q, %v", a.PasswordHash, err)
	}
}

func TestApplyKeysErrors(t *testing.T) {
	base := config.Default()
	for _, tc := range []struct {
		keys map[string]string
		want string
	}{
		{map[string]string{"hostnme": "x"}, "unknown configuration keys hostnme"},
		{map[string]string{"eth0": "10.210.0.300/24"}, "eth0="},
		{map[string]string{"role": "master"}, "want primary, secondary or none"},
		{map[string]string{"dc": "eth7"}, "want eth0, eth1 or none"},
		{map[string]string{"role": "primary", "eth0": "10.210.0.5/24"}, "vip"},
		{map[string]string{"role": "primary", "eth0": "10.210.0.5/24", "vip": "10.212.0.9/24"}, "not on the health monitor subnet"},
		{map[string]string{"tz": "Mars/Olympus"}, "timezone"},
		{map[string]string{"dns": "not-an-ip"}, "dns="},
		{map[string]string{"password": "Admin-2026"}, `configuration key password (value not shown): the password must not be a variation of "admin"`},
		{map[string]string{"password": "weak"}, "at least 10 characters"},
	} {
		got, err := ApplyKeys(base, tc.keys)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ApplyKeys(%v) error = %v, want containing %q", tc.keys, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "Admin-2026") {
			t.Errorf("the error shows the password: %v", err)
		}
		if got.Hostname != base.Hostname || got.Role != base.Role || got.PasswordHash != base.PasswordHash {
			t.Errorf("ApplyKeys(%v) changed the base on error: %+v", tc.keys, got)
		}
	}
}

func FuzzParseCmdline(f *testing.F) {
	f.Add(`hafw.role=primary "hafw.password=a b" hafw.recovery`)
	f.Add(`"unterminated hafw.eth0=dhcp`)
	f.Fuzz(func(t *testing.T, s string) {
		c := appliance.ParseCmdline(s)
		// Whatever the line says, an accepted configuration is a valid one.
		if a, err := ApplyKeys(config.Default(), c.Keys); err == nil {
			if err := a.Validate(); err != nil {
				t.Fatalf("accepted invalid configuration from %q: %v", s, err)
			}
		}
	})
}
