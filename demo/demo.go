// Package demo is the end-to-end proof that the parts are one product: it
// builds the VA-Standard image, boots two appliances from it in QEMU (TCG)
// on a private L2 segment inside a network namespace, pairs them through
// the management API, has a client write to the tracker service on the
// VIP, pulls the primary's power, measures the outage, boots the primary
// again, fails back and checks that no acknowledged write was lost; then
// boots a VA licensed for another machine and checks it refuses an HA
// role. Nothing is simulated: the appliances run the image's init agent,
// hmd and tracker. `make demo` (cmd/hafw-demo) and demo_test.go run it.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/hainfo"
	"github.com/hafw/hafw/internal/vmtest"
)

// Options configure a run.
type Options struct {
	// SrcDir is the hafw source tree (built into the image).
	SrcDir string
	// WorkDir receives the image, the appliance disks and QEMU's files.
	WorkDir string
	// Out receives the narration, gethainfo outputs and the summary.
	Out io.Writer
	Log *slog.Logger
	// BootTimeout bounds each boot to the ready line (TCG is slow).
	BootTimeout time.Duration
	// FailoverWait is the pair's long failover wait (DefaultFailoverWait
	// when zero). Heartbeats from TCG guests on a busy host arrive late; a
	// wait too short for the load fails over a living primary.
	FailoverWait time.Duration
}

// Step is one step of the scenario and its outcome.
type Step struct {
	Name string
	Took time.Duration
	Err  error
}

// Summary is the outcome of a run.
type Summary struct {
	Steps  []Step
	Outage time.Duration
	// RecoveryOutage is the client's outage after the second power pull,
	// the one before the recovery-mode boot.
	RecoveryOutage time.Duration
	Attempts       int // writes the client tried
	Acked          int // writes the service acknowledged
	Lost           []int
	Total          time.Duration
	// Namespace is the segment's network namespace (deleted at the end).
	Namespace string
}

// Passed reports whether every step passed.
func (s Summary) Passed() bool {
	return len(s.Steps) > 0 && !slices.ContainsFunc(s.Steps, func(st Step) bool { return st.Err != nil })
}

// Print writes the one-screen summary.
func (s Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "\n==================== hafw demo summary ====================\n")
	for i, st := range s.Steps {
		mark := "PASS"
		if st.Err != nil {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%2d. %s %6.1fs  %s\n", i+1, mark, st.Took.Seconds(), st.Name)
		if st.Err != nil {
			fmt.Fprintf(w, "          %s\n", strings.SplitN(st.Err.Error(), "\n", 2)[0])
		}
	}
	if s.Outage > 0 {
		fmt.Fprintf(w, "client outage after pulling the primary's power: %d ms\n", s.Outage.Milliseconds())
	} else {
		fmt.Fprintf(w, "client outage after pulling the primary's power: not measured\n")
	}
	if s.RecoveryOutage > 0 {
		fmt.Fprintf(w, "client outage before the recovery-mode boot: %d ms\n", s.RecoveryOutage.Milliseconds())
	}
	fmt.Fprintf(w, "writes: %d tried, %d acknowledged, %d acknowledged but lost\n", s.Attempts, s.Acked, len(s.Lost))
	fmt.Fprintf(w, "total time: %s\n", s.Total.Round(time.Second))
	fmt.Fprintf(w, "============================================================\n")
}

// The segment's addresses (10.2xx.0.0/24 by the project's test rules).
const (
	clientAddr = "10.231.0.100/24"
	vipAddr    = "10.231.0.10"
	password   = "demo-pass-1"
	// passwordCost is the iteration count of the password hash the demo
	// gives its appliances (hafw.password= takes a hash): under QEMU's TCG,
	// without KVM, the product's 600k iterations take tens of seconds per
	// check, minutes on a busy host, and every API call checks it.
	passwordCost = 20_000
)

// DefaultFailoverWait suits the demo on an otherwise idle two-core host.
const DefaultFailoverWait = 4 * time.Second

// appliance is one VA of the demo.
type appliance struct {
	name, role, eth0, mac, uuid string
	vip                         string // primary only
	disk                        string
	vm                          *VM
	// recovery boots with hafw.recovery: the primary whose data
	// partition was lost waits to be restored from its secondary.
	recovery bool
}

func (a *appliance) udi() string { return "AIR-MSE-VA-K9:V01:" + a.name + "_" + a.uuid }

func (a *appliance) addr() netip.Addr { return netip.MustParsePrefix(a.eth0).Addr() }

// cmdline is the image's boot entry plus the first-boot keys, as an
// operator deploying the appliance would give them.
func (a *appliance) cmdline(base, passwordHash string) string {
	keys := []string{base, "hafw.hostname=" + a.name, "hafw.role=" + a.role, "hafw.eth0=" + a.eth0,
		"hafw.dc=none", "hafw.password=" + passwordHash}
	if a.vip != "" {
		keys = append(keys, "hafw.vip="+a.vip)
	}
	if a.recovery {
		keys = append(keys, "hafw.recovery")
	}
	return strings.Join(keys, " ")
}

// readyRE is the init agent's ready line, whole (the console may hold
// half of it).
var readyRE = regexp.MustCompile(`hafw-ready: host=(\S+) profile=(\S+) role=(\S+) eth0=(\S+) eth1=(\S+) license=(\S+)\r?\n`)

// run is one execution of the scenario.
type run struct {
	o       Options
	fw      *Firmware
	seg     *Segment
	apps    []*appliance
	pwHash  string
	sum     Summary
	vmCount int

	// The pair and the management station's client for each.
	p, s       *appliance
	pAPI, sAPI *api.Client
	// The client writing to the VIP from the fourth step on.
	w            *Writer
	cancelWriter context.CancelFunc
	writerDone   chan struct{}
}

// Run executes the whole scenario. It always cleans up its VMs and the
// namespace, also when ctx is cancelled (Ctrl-C). The error is the first
// failed step's, with the tail of every appliance's console.
func Run(ctx context.Context, o Options) (Summary, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.BootTimeout == 0 {
		o.BootTimeout = 5 * time.Minute
	}
	if o.FailoverWait == 0 {
		o.FailoverWait = DefaultFailoverWait
	}
	start := time.Now()
	hash, err := config.HashPasswordCost(password, passwordCost)
	if err != nil {
		return Summary{}, err
	}
	r := &run{o: o, pwHash: hash}
	defer r.cleanup()
	err = r.scenario(ctx)
	r.sum.Total = time.Since(start)
	if err != nil {
		err = fmt.Errorf("%w%s", err, r.consoleTails())
	}
	return r.sum, err
}

// step runs fn as a named step, narrating it.
func (r *run) step(name string, fn func() error) error {
	fmt.Fprintf(r.o.Out, "\n--- %s\n", name)
	t := time.Now()
	err := fn()
	r.sum.Steps = append(r.sum.Steps, Step{Name: name, Took: time.Since(t), Err: err})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	fmt.Fprintf(r.o.Out, "    ok (%.1fs)\n", time.Since(t).Seconds())
	return nil
}

// say narrates inside the current step.
func (r *run) say(format string, args ...any) { fmt.Fprintf(r.o.Out, "    "+format+"\n", args...) }

// scenario is the demo, one named step after another; the first step that
// fails ends it (every later step builds on the state the earlier ones
// left: the pair, the client's writes).
func (r *run) scenario(ctx context.Context) error {
	r.p = &appliance{name: "mse1", role: "primary", eth0: "10.231.0.11/24", vip: vipAddr + "/24",
		mac: "52:54:00:23:10:01", uuid: "5a1e0001-0000-4000-8000-00000000d001"}
	r.s = &appliance{name: "mse2", role: "secondary", eth0: "10.231.0.12/24",
		mac: "52:54:00:23:10:02", uuid: "5a1e0002-0000-4000-8000-00000000d002"}
	r.apps = []*appliance{r.p, r.s}
	if err := os.MkdirAll(r.o.WorkDir, 0o755); err != nil {
		return err
	}
	defer r.stopWriter()
	for _, st := range []struct {
		name string
		fn   func(context.Context) error
	}{
		{"build the VA-Standard image and license each appliance for its UDI", r.buildAndLicense},
		{"boot both appliances (first-boot keys on the kernel command line)", r.bootPair},
		{"pair mse2 to mse1 through the management API; sync 100%, PRIMARY_ACTIVE/SECONDARY_ACTIVE", r.pair},
		{"client writes numbered elements to the tracker on the VIP " + vipAddr, r.startWriter},
		{"pull mse1's power (kill -9 of its QEMU): FAILOVER_ACTIVE, client served again", r.failover},
		{"boot mse1 again (TERMINATED), fail back: PRIMARY_ACTIVE/SECONDARY_ACTIVE", r.rebootAndFailBack},
		{"recovery: mse1's power pulled, its data partition wiped, booted with hafw.recovery; restored from mse2, fails back", r.recoverPrimary},
		{"client served by mse1 again; every acknowledged write intact", r.checkWrites},
		{"a VA licensed for another machine refuses an HA role", r.foreignLicense},
	} {
		if err := r.step(st.name, func() error { return st.fn(ctx) }); err != nil {
			return err
		}
	}
	return nil
}

// buildAndLicense builds the image once and gives each appliance its own
// disk with an activation license for its UDI (an unactivated VA takes no
// HA role), then creates the segment the appliances and the client share.
func (r *run) buildAndLicense(ctx context.Context) error {
	fw, err := BuildFirmware(ctx, r.o.SrcDir, filepath.Join(r.o.WorkDir, "image"), r.o.Log)
	if err != nil {
		return err
	}
	r.fw = fw
	for _, a := range r.apps {
		a.disk = filepath.Join(r.o.WorkDir, a.name+".img")
		if err := fw.ApplianceDisk(a.disk, a.udi()); err != nil {
			return err
		}
		r.say("%s: disk %s, activation license for %s", a.name, a.disk, a.udi())
	}
	seg, err := NewSegment(clientAddr)
	if err != nil {
		return err
	}
	r.seg = seg
	r.sum.Namespace = seg.Name
	r.say("segment: namespace %s, bridge br0, client %s", seg.Name, clientAddr)
	return nil
}

// bootPair starts both VMs before waiting for either (the boots overlap)
// and checks each came up activated in the role its command line gives.
func (r *run) bootPair(ctx context.Context) error {
	for _, a := range r.apps {
		if err := r.boot(a); err != nil {
			return err
		}
	}
	for _, a := range r.apps {
		m, err := a.vm.WaitFor(ctx, readyRE, 0, r.o.BootTimeout)
		if err != nil {
			return err
		}
		r.say("%s", strings.TrimSpace(m[0]))
		if m[3] != a.role || m[6] != "activated" {
			return fmt.Errorf("%s came up as role=%s license=%s, want role=%s license=activated", a.name, m[3], m[6], a.role)
		}
	}
	return nil
}

// pair pairs the secondary to the primary as an operator would, through
// the primary's management API, and waits until both sides agree and the
// data is in sync: only then is a failover lossless.
func (r *run) pair(ctx context.Context) error {
	r.pAPI, r.sAPI = r.client(r.p), r.client(r.s)
	// The operator reads the secondary's certificate on the secondary
	// (its Appliances page, `hactl status`) and pins it in the pairing.
	sst, err := r.sAPI.Status(ctx)
	if err != nil {
		return fmt.Errorf("GET /v1/status on mse2: %w", err)
	}
	res, err := r.pAPI.Pair(ctx, api.PairRequest{SecondaryName: r.s.name, SecondaryIP: r.s.addr().String(),
		SecondaryPassword: password, FailoverType: "automatic", FailbackType: "manual",
		LongFailoverWait: api.Duration(r.o.FailoverWait), SecondaryFingerprint: sst.CertFingerprint})
	if err != nil {
		return fmt.Errorf("POST /v1/pair on mse1: %w", err)
	}
	r.say("mse1: %s", res.Message)
	if err := r.waitPair(ctx, r.pAPI, r.sAPI, "PRIMARY_ACTIVE", "SECONDARY_ACTIVE", true, 3*time.Minute); err != nil {
		return err
	}
	return r.gethainfo(ctx, r.pAPI, r.sAPI)
}

// startWriter starts the client writing to the VIP for the rest of the
// scenario (stopWriter ends it) and waits for its first acknowledged
// writes: the outages and the loss check below are measured on them.
func (r *run) startWriter(ctx context.Context) error {
	r.w = NewWriter(vipAddr, r.seg.DialContext, 2*time.Second)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	r.cancelWriter, r.writerDone = cancel, done
	go func() { defer close(done); r.w.Run(wctx, 200*time.Millisecond) }()
	return waitUntil(ctx, 2*time.Minute, "10 acknowledged writes", func() bool { _, n := r.w.Counts(); return n >= 10 })
}

// stopWriter stops the client and waits for its last write to end, so
// its counts are final; stopping twice, or before it started, is a no-op.
func (r *run) stopWriter() {
	if r.writerDone == nil {
		return
	}
	r.cancelWriter()
	<-r.writerDone
}

// failover pulls the primary's power and measures the client's outage
// until the secondary serves the VIP.
func (r *run) failover(ctx context.Context) error {
	out, err := r.pullPrimaryPower(ctx, "the kill")
	if err != nil {
		return err
	}
	r.sum.Outage = out
	return r.gethainfo(ctx, r.sAPI)
}

// pullPrimaryPower kills the primary's VM (no orderly shutdown: a power
// cut) and waits until the secondary has failed over and the client's
// writes are acknowledged again; it returns the client's outage. after
// names the kill in the error.
func (r *run) pullPrimaryPower(ctx context.Context, after string) (time.Duration, error) {
	killed := time.Now()
	r.p.vm.Kill()
	r.say("mse1 killed at %s", killed.Format("15:04:05.000"))
	if err := waitState(ctx, r.sAPI, "FAILOVER_ACTIVE", 2*time.Minute); err != nil {
		return 0, fmt.Errorf("mse2: %w", err)
	}
	if err := waitUntil(ctx, 2*time.Minute, "a write acknowledged after "+after, func() bool { return r.w.AckedAfter(killed) }); err != nil {
		return 0, err
	}
	out, _ := r.w.Outage(killed)
	r.say("client served again through the VIP; outage %d ms", out.Milliseconds())
	return out, nil
}

// rebootAndFailBack boots the primary again from its own disk: it comes
// up TERMINATED (it knows it lost the VIP) and the operator fails back.
func (r *run) rebootAndFailBack(ctx context.Context) error {
	if _, err := r.bootReady(ctx, r.p); err != nil {
		return err
	}
	if err := waitState(ctx, r.pAPI, "TERMINATED", 2*time.Minute); err != nil {
		return fmt.Errorf("mse1: %w", err)
	}
	r.gethainfo(ctx, r.pAPI, r.sAPI)
	return r.failback(ctx, r.p, r.s, r.pAPI, r.sAPI)
}

// recoverPrimary is the lost-disk case: the primary's power is pulled,
// its data partition is replaced by a blank one, it boots in recovery
// mode (no HA role), the secondary restores it and the operator fails
// back.
func (r *run) recoverPrimary(ctx context.Context) error {
	out, err := r.pullPrimaryPower(ctx, "the second kill")
	if err != nil {
		return err
	}
	r.sum.RecoveryOutage = out
	r.gethainfo(ctx, r.sAPI)
	// A fresh copy of the image is a blank hafw-data partition; the
	// operator re-installs the activation license file, nothing else.
	if err := r.fw.ApplianceDisk(r.p.disk, r.p.udi()); err != nil {
		return fmt.Errorf("wiping mse1's data partition: %w", err)
	}
	r.say("mse1's disk rewritten from the image: blank hafw-data, only the activation license re-installed")
	if err := r.bootRecovery(ctx); err != nil {
		return err
	}
	// Status answers in recovery mode too: role none, no pairing.
	r.gethainfo(ctx, r.pAPI, r.sAPI)
	// The field engineer reads the recovering primary's new certificate
	// on its console (`hactl status`) and pins it in the restore.
	pst, err := r.pAPI.Status(ctx)
	if err != nil {
		return fmt.Errorf("GET /v1/status on mse1 in recovery: %w", err)
	}
	res, err := r.sAPI.Recover(ctx, api.RecoverRequest{PrimaryIP: r.p.addr().String(), PrimaryPassword: password, PrimaryFingerprint: pst.CertFingerprint})
	if err != nil {
		return fmt.Errorf("POST /v1/recover on mse2: %w", err)
	}
	r.say("mse2: %s", res.Message)
	if err := waitState(ctx, r.pAPI, "TERMINATED", 2*time.Minute); err != nil {
		return fmt.Errorf("mse1 after the restore: %w", err)
	}
	r.gethainfo(ctx, r.pAPI, r.sAPI)
	return r.failback(ctx, r.p, r.s, r.pAPI, r.sAPI)
}

// bootRecovery boots the primary with hafw.recovery, as the operator does
// after replacing its disk, and checks it takes no role and says so on
// the console: it must wait to be restored, not serve empty data.
func (r *run) bootRecovery(ctx context.Context) error {
	p := r.p
	p.recovery = true
	defer func() { p.recovery = false }()
	m, err := r.bootReady(ctx, p)
	if err != nil {
		return err
	}
	for _, l := range regexp.MustCompile(`hafw-recovery:[^\r\n]*`).FindAllString(p.vm.Console(), -1) {
		r.say("console: %s", l)
	}
	r.say("%s", strings.TrimSpace(m[0]))
	if m[3] != "none" {
		return fmt.Errorf("mse1 in recovery mode came up as role=%s, want role=none", m[3])
	}
	if !strings.Contains(p.vm.Console(), "hafw-recovery:") {
		return fmt.Errorf("mse1 booted with hafw.recovery printed no hafw-recovery: line")
	}
	return nil
}

// checkWrites waits until the failed-back primary serves the client, then
// stops the client and reads every acknowledged write back: the demo's
// claim is that failover and failback lose none.
func (r *run) checkWrites(ctx context.Context) error {
	back := time.Now()
	if err := waitUntil(ctx, 2*time.Minute, "a write acknowledged after failback", func() bool { return r.w.AckedAfter(back) }); err != nil {
		return err
	}
	r.stopWriter()
	r.sum.Attempts, r.sum.Acked = r.w.Counts()
	lost, err := r.w.Lost(ctx)
	if err != nil {
		return err
	}
	r.sum.Lost = lost
	r.say("%d writes tried, %d acknowledged, %d lost", r.sum.Attempts, r.sum.Acked, len(lost))
	if len(lost) > 0 {
		return fmt.Errorf("acknowledged writes lost: %v", lost)
	}
	return nil
}

// foreignLicense powers the pair off (its part is done; the host's CPU
// goes to the third VM) and boots a VA carrying another machine's
// activation license: it must take no HA role and say why on the
// console.
func (r *run) foreignLicense(ctx context.Context) error {
	for _, a := range r.apps {
		a.vm.Kill()
	}
	u := &appliance{name: "mse3", role: "primary", eth0: "10.231.0.13/24", vip: "10.231.0.20/24",
		mac: "52:54:00:23:10:03", uuid: "5a1e0003-0000-4000-8000-00000000d003"}
	u.disk = filepath.Join(r.o.WorkDir, u.name+".img")
	// The license of another VA (mse1's UDI) on mse3's disk.
	if err := r.fw.ApplianceDisk(u.disk, r.p.udi()); err != nil {
		return err
	}
	r.apps = append(r.apps, u)
	m, err := r.bootReady(ctx, u)
	if err != nil {
		return err
	}
	r.say("%s", strings.TrimSpace(m[0]))
	if m[3] != "none" || m[6] != "not-activated" {
		return fmt.Errorf("mse3 with another machine's license came up role=%s license=%s, want role=none license=not-activated", m[3], m[6])
	}
	line, err := u.vm.WaitFor(ctx, regexp.MustCompile(`[^\n]*not activated[^\n]*`), 0, time.Second)
	if err != nil {
		return fmt.Errorf("no console message about the missing activation: %w", err)
	}
	r.say("console: %s", strings.TrimSpace(line[0]))
	return nil
}

// bootReady boots a and waits for its ready line, returning the line's
// fields (readyRE's submatches).
func (r *run) bootReady(ctx context.Context, a *appliance) ([]string, error) {
	if err := r.boot(a); err != nil {
		return nil, err
	}
	return a.vm.WaitFor(ctx, readyRE, 0, r.o.BootTimeout)
}

// failback runs the operator's forced failback on the TERMINATED primary
// p and checks both sides walked the seed's failback states to
// PRIMARY_ACTIVE / SECONDARY_ACTIVE, in sync.
func (r *run) failback(ctx context.Context, p, s *appliance, pAPI, sAPI *api.Client) error {
	pMark, sMark := p.vm.Len(), s.vm.Len()
	res, err := pAPI.Failback(ctx, api.PeerRequest{Force: true})
	if err != nil {
		return fmt.Errorf("POST /v1/failback on %s: %w", p.name, err)
	}
	r.say("%s: %s", p.name, res.Message)
	if err := r.waitPair(ctx, pAPI, sAPI, "PRIMARY_ACTIVE", "SECONDARY_ACTIVE", true, 3*time.Minute); err != nil {
		return err
	}
	pw, sw := p.vm.States(pMark), s.vm.States(sMark)
	r.say("%s walked %s", p.name, strings.Join(pw, " → "))
	r.say("%s walked %s", s.name, strings.Join(sw, " → "))
	if !slices.Contains(pw, "FAILBACK_ACTIVE") || !slices.Contains(pw, "FAILBACK_COMPLETE") {
		return fmt.Errorf("%s walked %v, want FAILBACK_ACTIVE and FAILBACK_COMPLETE", p.name, pw)
	}
	if !slices.Contains(sw, "SECONDARY_ALONE") && !slices.Contains(sw, "FAILBACK_ACTIVE") {
		return fmt.Errorf("%s walked %v, want FAILBACK_ACTIVE / SECONDARY_ALONE", s.name, sw)
	}
	return r.gethainfo(ctx, pAPI, sAPI)
}

// boot starts a's VM (again) from its own disk, writable: what the
// appliance stores survives a power cycle.
func (r *run) boot(a *appliance) error {
	tap, err := r.seg.AddTap()
	if err != nil {
		return err
	}
	r.vmCount++
	dir := filepath.Join(r.o.WorkDir, fmt.Sprintf("qemu-%s-%d", a.name, r.vmCount))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	vm, err := StartVM(r.seg, a.name, vmtest.Options{
		Kernel: r.fw.Kernel, Initrd: r.fw.Initrd, Cmdline: a.cmdline(r.fw.Cmdline, r.pwHash),
		Disks: []vmtest.Disk{{Path: a.disk, Writable: true}},
		// eth0 on the segment; eth1 (the VA's direct-connect port, unused
		// here) on QEMU's isolated user network.
		NICs: []vmtest.NIC{{Model: "virtio-net-pci", Backend: "tap,ifname=" + tap + ",script=no,downscript=no", MAC: a.mac},
			{Model: "virtio-net-pci"}},
		MemoryMB: 1024, Extra: []string{"-uuid", a.uuid},
	}, dir)
	if err != nil {
		return err
	}
	a.vm = vm
	r.say("%s booting (QEMU TCG, %s on br0, UUID %s)", a.name, tap, a.uuid)
	return nil
}

// client is the management station's API client for a, dialling inside
// the segment. Pairing waits on the primary's own 30 s call to the
// secondary (two PBKDF2 checks under TCG): the station waits longer.
func (r *run) client(a *appliance) *api.Client {
	return api.NewRemoteClient(a.addr(), api.RemoteOptions{Password: password, DialContext: r.seg.DialContext, Timeout: 2 * time.Minute})
}

// gethainfo prints each appliance's status in gethainfo's layout.
func (r *run) gethainfo(ctx context.Context, clients ...*api.Client) error {
	for _, c := range clients {
		st, err := c.Status(ctx)
		if err != nil {
			return fmt.Errorf("GET /v1/status: %w", err)
		}
		fmt.Fprintf(r.o.Out, "\n    ---- gethainfo on %s ----\n", st.Hostname)
		if err := hainfo.Format(indent{r.o.Out}, st); err != nil {
			return err
		}
	}
	return nil
}

// indent prefixes every write with four spaces (gethainfo inside the
// narration). hainfo writes whole lines.
type indent struct{ w io.Writer }

func (i indent) Write(p []byte) (int, error) {
	s := strings.ReplaceAll(strings.TrimRight(string(p), "\n"), "\n", "\n    ")
	if _, err := fmt.Fprintf(i.w, "    %s\n", s); err != nil {
		return 0, err
	}
	return len(p), nil
}

// waitPair waits until the primary's and the secondary's view of the pair
// show the wanted states and, with synced, the primary reports data
// replication Up at 100%.
func (r *run) waitPair(ctx context.Context, pAPI, sAPI *api.Client, pState, sState string, synced bool, timeout time.Duration) error {
	var last string
	err := waitUntil(ctx, timeout, fmt.Sprintf("%s/%s with replication in sync", pState, sState), func() bool {
		ps, err1 := pAPI.Status(ctx)
		ss, err2 := sAPI.Status(ctx)
		if err := errors.Join(err1, err2); err != nil {
			last = err.Error()
			return false
		}
		if len(ps.Peers) != 1 || len(ss.Peers) != 1 {
			last = fmt.Sprintf("peers: mse1 %d, mse2 %d", len(ps.Peers), len(ss.Peers))
			return false
		}
		pp, sp := ps.Peers[0], ss.Peers[0]
		now := fmt.Sprintf("mse1 %s, mse2 %s, data replication %q", pp.State, sp.State, pp.DataReplication)
		if rep := pp.Replication; rep != nil {
			now += fmt.Sprintf(" (%s %d%%)", rep.State, rep.Percent)
		}
		if now != last {
			r.say("%s", now)
			last = now
		}
		if pp.State != pState || sp.State != sState {
			return false
		}
		return !synced || (pp.Replication != nil && pp.Replication.State == "Up" && pp.Replication.Percent == 100)
	})
	if err != nil {
		return fmt.Errorf("%w (last seen: %s)", err, last)
	}
	return nil
}

// waitState waits until c's appliance shows state for its (only) peer.
func waitState(ctx context.Context, c *api.Client, state string, timeout time.Duration) error {
	var last string
	err := waitUntil(ctx, timeout, state, func() bool {
		st, err := c.Status(ctx)
		if err != nil {
			last = err.Error()
			return false
		}
		if len(st.Peers) == 0 {
			last = "no peer"
			return false
		}
		last = st.Peers[0].State
		return last == state
	})
	if err != nil {
		return fmt.Errorf("%w (last seen: %s)", err, last)
	}
	return nil
}

// waitUntil polls cond every 250 ms.
func waitUntil(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s within %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil
}

// consoleTails is every appliance's last console lines, for failures.
func (r *run) consoleTails() string {
	var b strings.Builder
	for _, a := range r.apps {
		if a.vm != nil {
			fmt.Fprintf(&b, "\n--- %s console tail ---\n%s", a.name, a.vm.Tail(40))
		}
	}
	return b.String()
}

// cleanup kills every VM and deletes the namespace.
func (r *run) cleanup() {
	for _, a := range r.apps {
		if a.vm != nil {
			a.vm.Kill()
		}
	}
	if r.seg != nil {
		if err := r.seg.Close(); err != nil {
			r.o.Log.Error("removing the demo namespace", "err", err)
		}
	}
}
