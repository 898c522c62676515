package initagent

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/hafw/hafw/config"
)

func TestParseOVFEnvFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/ovf-env.xml")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ParseOVFEnv(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := keys["password"]; ok {
		t.Error("empty password property kept")
	}
	if keys["hostname"] != "mse1" || keys["vip"] != "10.10.10.11/24" || len(keys) != 10 {
		t.Errorf("keys %v", keys)
	}
	a, err := ApplyKeys(config.Default(), keys)
	if err != nil {
		t.Fatal(err)
	}
	if a.Role != config.RolePrimary || a.DirectConnectInterface != "eth1" ||
		a.Eth1.Address != netip.MustParsePrefix("192.168.100.1/30") || a.Eth0.Gateway != netip.MustParseAddr("10.10.10.1") {
		t.Errorf("configuration %+v", a)
	}
}

func TestParseOVFEnvRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"not xml":    "hostname=mse1",
		"wrong root": `<Envelope><PropertySection><Property key="hostname" value="x"/></PropertySection></Envelope>`,
		"no key":     `<Environment><PropertySection><Property value="x"/></PropertySection></Environment>`,
		"duplicate":  `<Environment><PropertySection><Property key="role" value="primary"/><Property key="role" value="secondary"/></PropertySection></Environment>`,
		"too big":    `<Environment>` + strings.Repeat(" ", maxOVFEnv) + `</Environment>`,
	} {
		if keys, err := ParseOVFEnv([]byte(doc)); err == nil {
			t.Errorf("%s: accepted, keys %v", name, keys)
		}
	}
}

func FuzzParseOVFEnv(f *testing.F) {
	if data, err := os.ReadFile("testdata/ovf-env.xml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`<Environment><PropertySection><Property key="eth0" value="dhcp"/></PropertySection></Environment>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseOVFEnv(data)
		if err != nil {
			return
		}
		for k, v := range keys {
			if k == "" || v == "" {
				t.Fatalf("empty key or value in %v", keys)
			}
		}
		if a, err := ApplyKeys(config.Default(), keys); err == nil {
			if err := a.Validate(); err != nil {
				t.Fatalf("accepted invalid configuration: %v", err)
			}
		}
	})
}
