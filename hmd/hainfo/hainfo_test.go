package hainfo

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/upgrade"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// The cases are the seed's own gethainfo outputs (000: the VA pair, the
// failover walk-through with hmd down on the primary, and the 3355 N:1
// secondary with two primaries).
func TestGolden(t *testing.T) {
	vaPeer := api.PeerStatus{HealthMonitorIP: "10.48.39.240", VIP: "10.48.39.224", Version: "8.0.110.0",
		UDI: "AIR-MSE-VA-K9:V01:NicoMSE2_1c6b1940-b6a5-11e4-b017-005056993b66", FailoverType: "manual", FailbackType: "manual",
		FailoverWaitMS: 10000, InstanceDBName: "mseos3s", InstanceDBPort: 1624, DataguardName: "dg_mse3", PrimaryDBAlias: "mseop3s",
		Heartbeat: "Up", State: "PRIMARY_ACTIVE", LastShutdownState: "FAILOVER_ACTIVE"}
	vaPrimary := api.Status{Running: true, Role: "primary", HealthMonitorIP: "10.48.39.238", VIP: "10.48.39.224", Version: "8.0.110.0",
		UDI: "AIR-MSE-VA-K9:V01:NicoMSE_b950a7c0-b68c-11e4-99d9-005056993b63", Peers: []api.PeerStatus{vaPeer}}
	down := vaPrimary
	down.Running = false
	n1 := api.Status{Running: true, Role: "secondary", HealthMonitorIP: "10.10.10.16", Version: "7.2.103.0", UDI: "AIR-MSE-3355-K9:V01:KQ45xx",
		Peers: []api.PeerStatus{
			{HealthMonitorIP: "10.10.10.22", VIP: "10.10.10.21", Version: "7.2.103.0", UDI: "AIR-MSE-3350-K9:V01:MXQ839xx", FailoverType: "manual", FailbackType: "manual",
				FailoverWaitMS: 10000, InstanceDBName: "mseos3", InstanceDBPort: 1524, DataguardName: "dg_mse3", PrimaryDBAlias: "mseop3s", Heartbeat: "Up", State: "SECONDARY_ACTIVE"},
			{HealthMonitorIP: "10.10.10.17", VIP: "10.10.10.18", Version: "7.2.103.0", UDI: "AIR-MSE-3310-K9:V01:FTX140xx", FailoverType: "manual", FailbackType: "manual",
				FailoverWaitMS: 500, InstanceDBName: "mseos4", InstanceDBPort: 1525, DataguardName: "dg_mse4", PrimaryDBAlias: "mseop4s", DirectConnect: true, Heartbeat: "Down", State: "FAILOVER_ACTIVE"},
		}}
	// A pair without a witness carries the daemon's warning.
	unwitnessed := vaPrimary
	unwitnessed.Peers = []api.PeerStatus{vaPeer}
	unwitnessed.Peers[0].Warnings = []string{"No witness configured: both serve through a full partition."}
	// A primary whose application failed once and a checked one runs.
	apps := vaPrimary
	apps.Applications = []api.AppStatus{
		{Name: "tracker", State: "running", PID: 4242, Restarts: 1, LastExit: "killed by killed", Failures: 1, MaxFailures: 3, LastFailure: "killed by killed"},
		{Name: "web", State: "running", PID: 4250, Health: "healthy", Check: "GET http://127.0.0.1:8080/ every 2s (timeout 1s, rise 2, fall 3)",
			LastCheck: "ok", MaxFailures: 3},
	}
	// A primary whose next firmware waits in slot B, with a reboot set.
	upgraded := vaPrimary
	upgraded.Firmware = &api.UpgradeStatus{RebootAt: "2026-12-06T02:00:00Z", Slots: []upgrade.SlotReport{
		{Name: "A", Version: "8.0.110.0", State: "good", Entries: []string{"hafw-a.conf"}, Active: true},
		{Name: "B", Version: "8.0.120.0", State: "pending", Entries: []string{"hafw-b+3.conf"}, Pending: true},
	}}
	// A rollback: slot B's version failed its trial.
	rolledBack := vaPrimary
	rolledBack.Firmware = &api.UpgradeStatus{Slots: []upgrade.SlotReport{
		{Name: "A", Version: "8.0.110.0", State: "good", Entries: []string{"hafw-a.conf"}, Active: true},
		{Name: "B", Version: "8.0.120.0", State: "failed", Failure: "hmd did not settle within 5m0s: hmd is in state NONE (role primary)"},
	}}
	for name, st := range map[string]api.Status{"va-primary": vaPrimary, "va-primary-down": down, "n1-secondary": n1, "va-primary-no-witness": unwitnessed,
		"va-primary-apps": apps, "va-primary-upgrade": upgraded, "va-primary-rolled-back": rolledBack} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Format(&buf, st); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Fatalf("output differs from %s:\n%s", golden, buf.String())
			}
		})
	}
}
