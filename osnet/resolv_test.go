package osnet

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteResolvConf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etc", "resolv.conf")
	servers := []netip.Addr{mustAddr("10.210.0.53"), mustAddr("10.210.0.54"), mustAddr("10.210.0.55"), mustAddr("10.210.0.56")}
	if err := WriteResolvConf(path, servers, "lab.test"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "# written by hafw; changes are overwritten\nsearch lab.test\nnameserver 10.210.0.53\nnameserver 10.210.0.54\nnameserver 10.210.0.55\n"
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// A domain from the network that would inject lines is refused and
	// the old file stays.
	if err := WriteResolvConf(path, servers[:1], "evil\nnameserver 6.6.6.6"); err == nil {
		t.Fatal("domain with a newline accepted")
	}
	if err := WriteResolvConf(path, []netip.Addr{{}}, ""); err == nil {
		t.Fatal("invalid server accepted")
	}
	if again, _ := os.ReadFile(path); string(again) != want {
		t.Fatalf("refused write changed the file:\n%s", again)
	}
}

func TestReadyField(t *testing.T) {
	for _, tc := range []struct {
		st   Status
		want string
	}{
		{Status{State: StateConfigured, Address: mustPrefix("10.210.0.5/24")}, "10.210.0.5/24"},
		{Status{State: StateDHCPPending, DHCP: true}, "dhcp-pending"},
		{Status{State: StateDown}, "down"},
		{Status{State: StateDisabled}, "none"},
	} {
		if got := tc.st.ReadyField(); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.st.State, got, tc.want)
		}
	}
}
