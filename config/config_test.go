package config

import (
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
)

// primary is the seed's VA primary: HIP 10.10.10.12/24, VIP 10.10.10.11.
func primary() Appliance {
	a := Default()
	a.Hostname = "mse1"
	a.Role = RolePrimary
	a.Eth0 = Interface{Enabled: true, Address: netip.MustParsePrefix("10.10.10.12/24"), Gateway: netip.MustParseAddr("10.10.10.1")}
	a.VIP = netip.MustParsePrefix("10.10.10.11/24")
	a.NTPServers = []string{"ntp.network.local"}
	return a
}

func TestValidateAcceptsSeedExamples(t *testing.T) {
	p := primary()
	if err := p.Validate(); err != nil {
		t.Fatalf("seed primary rejected: %v", err)
	}
	s := primary()
	s.Hostname, s.Role, s.VIP = "mse2", RoleSecondary, netip.Prefix{}
	s.Eth0.Address = netip.MustParsePrefix("10.10.10.13/24")
	if err := s.Validate(); err != nil {
		t.Fatalf("seed secondary rejected: %v", err)
	}
	// Direct connect on eth1 with 1.1.1.1/8, as in the seed's 3355 example.
	d := primary()
	d.DirectConnectInterface = "eth1"
	d.Eth1 = Interface{Enabled: true, Address: netip.MustParsePrefix("1.1.1.1/8")}
	if err := d.Validate(); err != nil {
		t.Fatalf("direct-connect primary rejected: %v", err)
	}
	if err := Default().Validate(); err != nil {
		t.Fatalf("default rejected: %v", err)
	}
}

func TestValidateRejects(t *testing.T) {
	cases := []struct {
		name  string
		mod   func(*Appliance)
		field string
	}{
		{"hostname starting with digit", func(a *Appliance) { a.Hostname = "1mse" }, "hostname"},
		{"hostname ending with dash", func(a *Appliance) { a.Hostname = "mse-" }, "hostname"},
		{"unknown role", func(a *Appliance) { a.Role = "tertiary" }, "role"},
		{"VIP equals HIP", func(a *Appliance) { a.VIP = netip.MustParsePrefix("10.10.10.12/24") }, "vip"},
		{"VIP outside subnet", func(a *Appliance) { a.VIP = netip.MustParsePrefix("10.10.11.11/24") }, "vip"},
		{"VIP on a secondary", func(a *Appliance) { a.Role = RoleSecondary }, "vip"},
		{"primary without VIP", func(a *Appliance) { a.VIP = netip.Prefix{} }, "vip"},
		{"unknown HM interface", func(a *Appliance) { a.HealthMonitorInterface = "eth7" }, "health_monitor_interface"},
		{"HA role on DHCP", func(a *Appliance) { a.Eth0 = Interface{Enabled: true, DHCP: true} }, "health_monitor_interface"},
		{"direct connect on HM port", func(a *Appliance) { a.DirectConnectInterface = "eth0" }, "direct_connect_interface"},
		{"direct connect on disabled port", func(a *Appliance) { a.DirectConnectInterface = "eth1" }, "direct_connect_interface"},
		{"gateway off subnet", func(a *Appliance) { a.Eth0.Gateway = netip.MustParseAddr("192.168.1.1") }, "eth0.gateway"},
		{"bad timezone", func(a *Appliance) { a.Timezone = "Mars/Olympus" }, "timezone"},
		{"bad NTP server", func(a *Appliance) { a.NTPServers = []string{"a b"} }, "ntp_servers"},
		{"recovery on secondary", func(a *Appliance) { a.Role, a.VIP, a.RecoveryMode = RoleSecondary, netip.Prefix{}, true }, "recovery_mode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := primary()
			tc.mod(&a)
			err := a.Validate()
			var verr ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Validate() = %v, want a ValidationError", err)
			}
			for _, fe := range verr {
				if fe.Field == tc.field {
					return
				}
			}
			t.Fatalf("no error for field %q in %v", tc.field, err)
		})
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config", "appliance.json")
	if _, err := Load(path); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("Load of missing file = %v, want ErrNotConfigured", err)
	}
	want := primary()
	want.DNSServers = []netip.Addr{netip.MustParseAddr("10.10.10.2")}
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.VIP != want.VIP || got.Eth0 != want.Eth0 || got.Hostname != want.Hostname || got.DNSServers[0] != want.DNSServers[0] {
		t.Fatalf("round trip changed the configuration:\n got %+v\nwant %+v", got, want)
	}
	bad := want
	bad.Hostname = "-"
	if err := Save(path, bad); err == nil {
		t.Fatal("Save accepted an invalid configuration")
	}
	if again, _ := Load(path); again.Hostname != "mse1" {
		t.Fatal("a refused Save changed the stored configuration")
	}
}

func TestParseRejectsUnknownKeys(t *testing.T) {
	_, err := Parse([]byte(`{"hostname":"mse","role":"none","health_monitor_interface":"eth0","eth0":{"enabled":true,"dhcp":true},"timezone":"UTC","vipp":"1.2.3.4/24"}`))
	if err == nil || !strings.Contains(err.Error(), "vipp") {
		t.Fatalf("Parse with a typo'd key = %v, want an error naming it", err)
	}
}

func TestPassword(t *testing.T) {
	if _, err := HashPassword("short"); err == nil {
		t.Fatal("short password accepted")
	}
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "correct horse") {
		t.Fatal("right password refused")
	}
	if CheckPassword(h, "correct horsf") || CheckPassword("garbage", "correct horse") {
		t.Fatal("wrong password or malformed hash accepted")
	}
	if !IsPasswordHash(h) || IsPasswordHash("correct horse") || IsPasswordHash("pbkdf2-sha256$0$c2FsdA$a2V5") {
		t.Error("IsPasswordHash misjudges")
	}
	cheap, err := HashPasswordCost("correct horse", 1000)
	if err != nil || !strings.HasPrefix(cheap, "pbkdf2-sha256$1000$") || !CheckPassword(cheap, "correct horse") {
		t.Errorf("HashPasswordCost: %q, %v", cheap, err)
	}
	if _, err := HashPasswordCost("correct horse", 20_000_000); err == nil {
		t.Error("a cost above the limit accepted")
	}
}

func TestCheckPasswordStrength(t *testing.T) {
	for _, c := range []struct {
		password string
		want     string // a piece of the reason; "" for accepted
	}{
		{"correct horse", ""},
		{"s3cret-pass", ""},
		{"Tr0ub4dor&3", ""},
		{"パスワードは長い秘密です1", ""}, // letters without case count as others
		{"Badminton-42", ""},  // contains "admin", but is not a variation of it
		{"", "at least 10 characters (this one has 0)"},
		{"short-1", "at least 10 characters (this one has 7)"},
		{"ab1-ab1-a", "at least 10 characters (this one has 9)"},
		{strings.Repeat("a1", 65), "at most 128 characters (this one has 130)"},
		{"alllowercase", "at least two kinds"},
		{"ALLUPPERCASE", "at least two kinds"},
		{"1234567890123", "at least two kinds"},
		{"!@#$%^&*()_+", "at least two kinds"},
		{"Password2026!", `variation of "password"`},
		{"p-a-s-s-w-o-r-d", `variation of "password"`},
		{"Admin-12345", `variation of "admin"`},
		{" leading-space1", "begin or end with a space"},
		{"trailing-space1 ", "begin or end with a space"},
		{"tab\there-123", "control characters"},
		{"bad-utf8-\xff-123", "not valid UTF-8"},
	} {
		err := CheckPasswordStrength(c.password)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q refused: %v", c.password, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: %v, want a refusal saying %q", c.password, err, c.want)
		}
	}
}
