package hmdtest

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hafw/hafw/internal/netnstest"
	"github.com/hafw/hafw/internal/snmptest"
	"github.com/hafw/hafw/internal/testenv"
)

// trapNames is the sequence of (node, notification) a receiver decoded,
// "mse2 hafwFailoverCompleted", in arrival order.
func trapNames(d *snmptest.Trapd) []string {
	re := regexp.MustCompile(`OID: HAFW-MIB::(hafw\w+)\t.*HAFW-MIB::hafwEventNode\.0 = STRING: (\S+)\t.*HAFW-MIB::hafwEventNewState\.0 = STRING: (\S*)\t`)
	var out []string
	for _, line := range d.Traps() {
		if m := re.FindStringSubmatch(line); m != nil {
			s := m[2] + " " + m[1]
			if m[3] != "" {
				s += " " + m[3]
			}
			out = append(out, s)
		}
	}
	return out
}

// subsequence reports whether want appears in got in order (not
// necessarily adjacent).
func subsequence(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// TestFailoverTraps pulls a real pair through a failover with three trap
// destinations on the secondary — net-snmp's snmptrapd as a v2c receiver,
// a second snmptrapd taking SNMPv3 authPriv informs, and a black hole (an
// address nobody has) — and reads the notifications back decoded with
// HAFW-MIB: names, not numbers, in the order they happened. The black hole
// costs the failover nothing and the others' notifications still arrive.
func TestFailoverTraps(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	testenv.RequireCommand(t, "snmptrapd")
	var v2c, v3 *snmptest.Trapd
	l, p, s := newPair(t, "10.251.0", func(l *lan, p, s *node) {
		serveNames(l, p, s)
		v2c, v3 = nmsReceivers(t, l)
		addTrapDestinations(t, l, p, s)
		// The test button reaches the real receiver.
		if out, err := s.hactl("traps", "test", "--name", "nms-v3"); err != nil || !strings.Contains(out, "test notification sent") {
			t.Fatalf("hactl traps test: %v\n%s", err, out)
		}
		if out, err := s.hactl("traps", "test", "--name", "black-hole"); err == nil {
			t.Fatalf("a test inform to a black hole succeeded:\n%s", out)
		}
	})
	list, err := s.hactl("traps", "list")
	if err != nil || strings.Contains(list, "pass-phrase") || strings.Contains(list, "hafw-test") || !strings.Contains(list, "nms-v3") {
		t.Fatalf("hactl traps list (secrets must not show): %v\n%s", err, list)
	}
	if !subsequence(trapNames(v3), []string{"mse2 hafwTest"}) {
		t.Fatalf("the test inform did not arrive: %v", trapNames(v3))
	}

	killed := time.Now()
	p.kill(l)
	s.waitState(0, "FAILOVER_ACTIVE", 15*time.Second)
	t.Logf("secondary FAILOVER_ACTIVE %v after the kill (failover wait 500ms; one trap destination is a black hole)", time.Since(killed).Round(time.Millisecond))
	want := []string{"mse2 hafwHeartbeatDown", "mse2 hafwHAStateChange FAILOVER_INVOKED", "mse2 hafwFailoverStarted FAILOVER_INVOKED",
		"mse2 hafwHAStateChange FAILOVER_ACTIVE", "mse2 hafwFailoverCompleted FAILOVER_ACTIVE"}
	for name, d := range map[string]*snmptest.Trapd{"v2c": v2c, "v3 inform": v3} {
		netnstest.Eventually(t, 20*time.Second, "the failover's notifications at the "+name+" receiver", func() bool {
			return subsequence(trapNames(d), want)
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tl, err := s.api().Traps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range tl.Destinations {
		switch d.Name {
		case "black-hole":
			// Its informs wait for acknowledgements that never come.
			if d.Sent != 0 {
				t.Errorf("black hole acknowledged %d informs", d.Sent)
			}
		default:
			if d.Sent < uint64(len(want)) || d.Failed != 0 {
				t.Errorf("%s: sent %d, failed %d (%s)", d.Name, d.Sent, d.Failed, d.LastError)
			}
		}
	}
	if t.Failed() {
		fmt.Println(strings.Join(trapNames(v2c), "\n"))
	}
}

// nmsReceivers starts a management station (.50) on the LAN with two
// net-snmp snmptrapd: SNMPv2c on port 162, SNMPv3 informs on 1162.
func nmsReceivers(t testing.TB, l *lan) (v2c, v3 *snmptest.Trapd) {
	t.Helper()
	nms := netnstest.New(t, "nms")
	l.br.Attach(nms, "eth0")
	nms.AddAddr("eth0", l.prefix(50))
	v2c = snmptest.Start(t, nms, snmptest.Config{Listen: l.addr(50).String() + ":162", Community: "hafw-test"})
	v3 = snmptest.Start(t, nms, snmptest.Config{Listen: l.addr(50).String() + ":1162",
		Users: []snmptest.User{{Name: "nms", AuthKey: "auth-pass-phrase", PrivKey: "priv-pass-phrase"}}})
	return v2c, v3
}

// addTrapDestinations gives each node three destinations with hactl: the
// station's v2c receiver, its v3 inform receiver, and a black hole (v3
// informs to .99, where nobody is).
func addTrapDestinations(t testing.TB, l *lan, nodes ...*node) {
	t.Helper()
	for _, n := range nodes {
		for _, args := range [][]string{
			{"--name", "nms-v2c", "--address", l.addr(50).String(), "--community", "hafw-test"},
			{"--name", "nms-v3", "--address", l.addr(50).String() + ":1162", "--version", "v3", "--user", "nms",
				"--auth-key", "auth-pass-phrase", "--priv-key", "priv-pass-phrase", "--inform"},
			{"--name", "black-hole", "--address", l.addr(99).String(), "--version", "v3", "--user", "nms",
				"--auth-key", "auth-pass-phrase", "--priv-key", "priv-pass-phrase", "--inform"},
		} {
			if out, err := n.hactl(append([]string{"traps", "add"}, args...)...); err != nil {
				t.Fatalf("hactl traps add on %s: %v\n%s", n.name, err, out)
			}
		}
	}
}

// TestReplicationTraps: the primary's receiver hears its data replication
// go down when the secondary's power is pulled (and nothing before, while
// the replication merely came up at start).
func TestReplicationTraps(t *testing.T) {
	testenv.Short(t, "hmd network namespace test")
	testenv.RequireCommand(t, "snmptrapd")
	var v2c *snmptest.Trapd
	l, p, s := newPair(t, "10.229.0", func(l *lan, p, s *node) {
		p.withTracker()
		s.withTracker()
		nms := netnstest.New(t, "nms")
		l.br.Attach(nms, "eth0")
		nms.AddAddr("eth0", l.prefix(50))
		v2c = snmptest.Start(t, nms, snmptest.Config{Listen: l.addr(50).String() + ":162", Community: "hafw-test"})
		if out, err := p.hactl("traps", "add", "--name", "nms", "--address", l.addr(50).String(), "--community", "hafw-test"); err != nil {
			t.Fatalf("hactl traps add: %v\n%s", err, out)
		}
	})
	waitTrue(t, 30*time.Second, "data replication Up on the primary", func() bool { return p.replication() == "Up" })
	// The watcher reads every few seconds: let it see Up before the cut.
	time.Sleep(2 * watchPeriod)
	s.kill(l)
	netnstest.Eventually(t, 60*time.Second, "hafwReplicationDown from the primary", func() bool {
		return subsequence(trapNames(v2c), []string{"mse1 hafwReplicationDown"})
	})
	if t.Failed() {
		st := p.status()
		t.Logf("primary: %+v", st.Peers)
	}
}

// watchPeriod is how often hmd reads the state its reading-based
// notifications come from (cmd/hmd's watchInterval).
const watchPeriod = 5 * time.Second
