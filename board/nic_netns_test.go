package board

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/hafw/hafw/internal/netnstest"
)

// nicHelperEnv makes the test binary, started inside a test namespace by
// TestReadNICsRealKernel, print ReadNICs of that namespace instead of
// running tests.
const nicHelperEnv = "HAFW_BOARD_NIC_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(nicHelperEnv) == "1" {
		nics, err := ReadNICs(System{Root: "/"})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := json.NewEncoder(os.Stdout).Encode(nics); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestReadNICsRealKernel reads a real kernel's /sys/class/net: inside a
// namespace of its own (`ip netns exec` mounts that namespace's sysfs), an
// interface with carrier, one administratively down (whose carrier file
// answers EINVAL) and loopback.
func TestReadNICsRealKernel(t *testing.T) {
	a := netnstest.New(t, "boardnic")
	b := netnstest.New(t, "boardpeer")
	netnstest.Veth(a, "eth0", b, "peer0")
	a.IP("link", "set", "eth0", "address", "02:00:0a:d2:00:01")
	a.IP("link", "add", "eth1", "address", "02:00:0a:d2:00:02", "type", "veth", "peer", "name", "peer1", "netns", b.Name)

	// The kernel publishes operstate "up" a moment after carrier
	// (linkwatch); wait for it rather than race it.
	var nics []NIC
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		nics = readNICsIn(t, a.Name)
		if len(nics) > 0 && nics[0].OperState == "up" || time.Now().After(deadline) {
			break
		}
	}
	want := []NIC{
		{Name: "eth0", MAC: "02:00:0a:d2:00:01", Carrier: true, OperState: "up"},
		{Name: "eth1", MAC: "02:00:0a:d2:00:02", Carrier: false, OperState: "down"},
		{Name: "lo", MAC: "00:00:00:00:00:00", Carrier: true, OperState: "unknown"},
	}
	if len(nics) != len(want) {
		t.Fatalf("got %+v, want %+v", nics, want)
	}
	for i := range want {
		if nics[i] != want[i] {
			t.Errorf("got %+v, want %+v", nics[i], want[i])
		}
	}
}

// readNICsIn runs ReadNICs inside the named namespace (a helper process
// under `ip netns exec`, which mounts that namespace's sysfs).
func readNICsIn(t *testing.T, ns string) []NIC {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0])
	cmd.Env = append(os.Environ(), nicHelperEnv+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helper in %s: %v: %s", ns, err, stderr.String())
	}
	var nics []NIC
	if err := json.Unmarshal(stdout.Bytes(), &nics); err != nil {
		t.Fatalf("helper output %q: %v", stdout.String(), err)
	}
	return nics
}
