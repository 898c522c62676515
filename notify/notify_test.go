package notify

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/internal/snmptest"
	"github.com/hafw/hafw/internal/testenv"
)

// TestMIBLint runs libsmi's smilint at level 4 on HAFW-MIB: any message
// fails the test.
func TestMIBLint(t *testing.T) {
	testenv.RequireCommand(t, "smilint")
	dir := snmptest.MIBDir()
	cmd := exec.Command("smilint", "-c", "/dev/null", "-l", "4", "-s", filepath.Join(dir, "HAFW-MIB.txt"))
	cmd.Env = append(os.Environ(), "SMIPATH="+filepath.Join(dir, "testdata"))
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("smilint -l 4: %v\n%s", err, out)
	}
}

// TestMIBMatchesTypes: every event type has its notification in the MIB
// under the OID the sender uses, and the MIB has no other.
func TestMIBMatchesTypes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(snmptest.MIBDir(), "HAFW-MIB.txt"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?ms)^(hafw\w+) NOTIFICATION-TYPE.*?::= \{ hafwNotifications (\d+) \}`)
	found := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		found[m[1]] = NotificationOID + "." + m[2]
	}
	if len(found) != len(Types()) {
		t.Errorf("the MIB has %d notifications, the code %d types", len(found), len(Types()))
	}
	for _, ty := range Types() {
		if got := found[ty.MIBName()]; got != NotificationOIDOf(ty) {
			t.Errorf("%s: MIB OID %q, sender's %q", ty.MIBName(), got, NotificationOIDOf(ty))
		}
	}
	if !strings.Contains(string(data), "::= { enterprises 32473 1 }") || !strings.HasPrefix(MIBOID, "1.3.6.1.4.1.32473.1") {
		t.Error("the MIB and EnterpriseOID disagree on the module's arc")
	}
}

func TestClassifier(t *testing.T) {
	c := &Classifier{Node: "mse2"}
	now := time.Now()
	types := func(evs []Event) []Type {
		var out []Type
		for _, e := range evs {
			out = append(out, e.Type)
		}
		return out
	}
	for _, tc := range []struct {
		from, to ha.State
		want     []Type
	}{
		{ha.SecondaryActive, ha.FailoverInvoked, []Type{TypeStateChange, TypeFailoverStarted}},
		{ha.FailoverInvoked, ha.FailoverActive, []Type{TypeStateChange, TypeFailoverCompleted}},
		{ha.FailoverActive, ha.FailbackActive, []Type{TypeStateChange, TypeFailbackStarted}},
		{ha.SecondaryAlone, ha.SecondaryActive, []Type{TypeStateChange, TypeFailbackCompleted}},
		{ha.StateInitializing, ha.SecondaryActive, []Type{TypeStateChange}},
	} {
		evs := c.Transition(now, "10.0.0.1", tc.from, tc.to, "ha.PeerDown")
		if got := types(evs); strings.Join(typeStrings(got), ",") != strings.Join(typeStrings(tc.want), ",") {
			t.Errorf("%s -> %s: %v, want %v", tc.from, tc.to, got, tc.want)
		}
		if evs[0].OldState != string(tc.from) || evs[0].NewState != string(tc.to) || evs[0].Node != "mse2" || evs[0].Reason != "ha.PeerDown" {
			t.Errorf("state change event %+v", evs[0])
		}
	}
	split := ha.Record{Description: ha.MsgSplitBrain, Remarks: "the virtual IP is also answered by x; waiting for heartbeats to decide by epoch"}
	if got := types(c.Record("p", split)); len(got) != 1 || got[0] != TypeSplitBrainDetected {
		t.Errorf("first split brain record: %v", got)
	}
	if got := types(c.Record("p", split)); len(got) != 0 {
		t.Errorf("a split brain is detected once: %v", got)
	}
	split.Remarks = "epoch 3 vs 4; our claim is newer: keeping the virtual IP, the peer releases it"
	if got := types(c.Record("p", split)); len(got) != 1 || got[0] != TypeSplitBrainRepaired {
		t.Errorf("decided split brain: %v", got)
	}
	if got := types(c.Record("p", ha.Record{Description: ha.MsgActive, Remarks: ha.RemarkSynchronized})); len(got) != 1 || got[0] != TypeSyncComplete {
		t.Errorf("first sync: %v", got)
	}
	for _, desc := range []string{ha.MsgAppFailed, ha.MsgAppKept, ha.MsgInstanceStopped} {
		if got := types(c.Record("p", ha.Record{Description: desc, Remarks: "tracker: exited 3 times in 1m0s"})); len(got) != 1 || got[0] != TypeApplicationFailure {
			t.Errorf("%q: %v, want one application failure", desc, got)
		}
	}
	for _, desc := range []string{ha.MsgAppFailover, ha.MsgAppHoldDownEnded, ha.MsgAppCleared} {
		if got := c.Record("p", ha.Record{Description: desc}); got != nil {
			t.Errorf("%q is told by other events, not an application failure: %v", desc, got)
		}
	}
	if got := c.Record("p", ha.Record{Description: ha.MsgConfigCreated}); got != nil {
		t.Errorf("a configuration record is no operator event: %v", got)
	}
}

func typeStrings(ts []Type) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

func TestValidate(t *testing.T) {
	good := Destination{Name: "nms", Address: "10.0.0.9", Version: V2c, Community: "public"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good destination refused: %v", err)
	}
	if ap, _ := good.AddrPort(); ap.Port() != DefaultTrapPort {
		t.Errorf("default port %d", ap.Port())
	}
	for _, tc := range []struct {
		d      Destination
		fields []string
	}{
		{Destination{Name: "a b", Address: "nms.example", Version: V2c}, []string{"name", "address", "community"}},
		{Destination{Name: "x", Address: "10.0.0.9:0", Version: "v1", Community: "c"}, []string{"address", "version"}},
		{Destination{Name: "x", Address: "0.0.0.0", Version: V2c, Community: "has space", User: "u"}, []string{"address", "community", "user"}},
		{Destination{Name: "x", Address: "10.0.0.9:1162", Version: V3, Community: "c", User: "u", AuthProtocol: "MD5", AuthKey: "short", PrivProtocol: "DES", PrivKey: "12345678"},
			[]string{"community", "auth_protocol", "priv_protocol", "auth_key"}},
	} {
		err := tc.d.Validate()
		var ve config.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%+v: %v, want a validation error", tc.d, err)
			continue
		}
		var got []string
		for _, f := range ve {
			got = append(got, f.Field)
		}
		if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
			t.Errorf("%+v: fields %v, want %v (%v)", tc.d, got, tc.fields, err)
		}
	}
}

// blockingSink never finishes a send until released: a black hole.
type blockingSink struct {
	release chan struct{}
	mu      sync.Mutex
	got     []Event
}

func (b *blockingSink) Send(ctx context.Context, e Event) error {
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.mu.Lock()
	b.got = append(b.got, e)
	b.mu.Unlock()
	return nil
}
func (b *blockingSink) Close() error { return nil }

// TestOutletDropsOldest: a sink that never returns does not block the
// publisher; the queue keeps the newest events and counts the rest.
func TestOutletDropsOldest(t *testing.T) {
	sink := &blockingSink{release: make(chan struct{})}
	o := startOutlet("hole", sink, 4, slogDiscard())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 100 {
			o.push(Event{Text: strconv.Itoa(i)})
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("push blocked on a sink that does not return")
	}
	// One event is (or will soon be) in the sink's hands, at most four
	// queued, the rest dropped.
	if q, d := o.queued(), o.dropped.Load(); q < 3 || q > 4 || uint64(q)+d < 99 || uint64(q)+d > 100 {
		t.Errorf("queued %d dropped %d", q, d)
	}
	close(sink.release)
	deadline := time.Now().Add(30 * time.Second)
	for o.queued() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	o.close()
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if n := len(sink.got); n < 4 || sink.got[n-1].Text != "99" {
		t.Errorf("delivered %d events, last %+v; want the newest kept", n, sink.got)
	}
}

// TestSecretsStoredPrivately: the settings file is 0600 and holds the
// secrets, the views never do; a damaged file is set aside, not fatal.
func TestSecretsStoredPrivately(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.json")
	s, err := Open(Options{Path: path, Node: "mse1", Log: slogDiscard()})
	if err != nil {
		t.Fatal(err)
	}
	d := Destination{Name: "nms", Address: "10.0.0.9", Version: V3, User: "u", AuthProtocol: AuthSHA, AuthKey: "secret-auth-key", PrivProtocol: PrivAES, PrivKey: "secret-priv-key"}
	if err := s.PutDestination(d); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("settings file mode %v, err %v", fi.Mode(), err)
	}
	views, _ := json.Marshal(s.Destinations())
	if strings.Contains(string(views), "secret-") {
		t.Errorf("a view shows a secret: %s", views)
	}
	boots := s.engine.Boots
	s.Close()
	s2, err := Open(Options{Path: path, Log: slogDiscard()})
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.Destinations(); len(got) != 1 || got[0].Name != "nms" || s2.engine.Boots != boots+1 || s2.EngineID() != s.EngineID() {
		t.Errorf("reopened: %+v boots %d (was %d)", got, s2.engine.Boots, boots)
	}
	if err := s2.DeleteDestination("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete unknown: %v", err)
	}
	if err := s2.SetRules([]Rule{{Name: "r", Target: "trap:ghost"}}); err == nil {
		t.Error("a rule to a missing destination was accepted")
	}
	s2.Close()
	if err := os.WriteFile(path, []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	s3, err := Open(Options{Path: path, Log: slogDiscard()})
	if err != nil {
		t.Fatalf("a damaged file stopped the service: %v", err)
	}
	defer s3.Close()
	if _, err := os.Stat(path + ".damaged"); err != nil || len(s3.Destinations()) != 0 {
		t.Errorf("damaged file not set aside: %v", err)
	}
}

func TestRules(t *testing.T) {
	rules := []Rule{
		{Name: "cores", Types: []Type{TypeCoreDown}, Cores: []string{"core2"}, Target: "trap:nms"},
		{Name: "bad", MinSeverity: Critical, Target: TargetSyslog},
	}
	outlets := []string{"trap:nms", "trap:other", TargetSyslog}
	for _, tc := range []struct {
		e    Event
		want string
	}{
		{Event{Type: TypeCoreDown, Core: "core2", Severity: Warning}, "trap:nms"},
		{Event{Type: TypeCoreDown, Core: "core1", Severity: Warning}, ""},
		{Event{Type: TypeCoreDown, Core: "core2", Severity: Critical}, "trap:nms,syslog"},
		{Event{Type: TypeFailoverCompleted, Severity: Critical}, "syslog"},
	} {
		if got := strings.Join(targets(rules, outlets, tc.e), ","); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.e, got, tc.want)
		}
	}
	if got := targets(nil, outlets, Event{}); len(got) != 3 {
		t.Errorf("without rules every outlet: %v", got)
	}
}
