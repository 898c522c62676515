package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/hmdtest/gapprobe/gapreport"
	"golang.org/x/sys/unix"
)

var t0 = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

// answered is a probe sent at sentMS and answered rttMS later by name.
func answered(sentMS, rttMS float64, name string) probe {
	return probe{sent: t0.Add(ms(sentMS)), answered: true, rx: t0.Add(ms(sentMS + rttMS)), name: name}
}

func lost(sentMS float64) probe { return probe{sent: t0.Add(ms(sentMS))} }

func TestSummarize(t *testing.T) {
	const thr = 20 * time.Millisecond
	cases := []struct {
		name      string
		probes    []probe
		endMS     float64
		maxWait   time.Duration
		unstalled time.Duration
		episodes  []gapreport.Episode
	}{
		{
			name:    "every probe answered at once",
			probes:  []probe{answered(0, 0.1, "a"), answered(5, 0.1, "a"), answered(10, 0.2, "a")},
			endMS:   15,
			maxWait: ms(0.2), unstalled: ms(0.2),
		},
		{
			// The prober paused 200 ms but every answer came at once:
			// the path never failed, so no client waited.
			name:    "a prober pause is no gap",
			probes:  []probe{answered(0, 0.1, "a"), answered(200, 0.1, "a")},
			endMS:   205,
			maxWait: ms(0.1), unstalled: ms(0.1),
		},
		{
			// Probes at 5..45 lost: a client sending at 5 ms waited
			// until the answer to the probe sent at 50 ms.
			name: "lost probes wait for the next answer",
			probes: []probe{answered(0, 0.1, "a"), lost(5), lost(10), lost(15), lost(20), lost(25), lost(30), lost(35), lost(40), lost(45),
				answered(50, 0.5, "b")},
			endMS:   55,
			maxWait: ms(45.5), unstalled: ms(45.5),
			episodes: []gapreport.Episode{{From: t0.Add(ms(5)), Wait: ms(45.5)}},
		},
		{
			// A late answer overtaken by a later probe's answer: the
			// earliest answer after sending counts.
			name:    "the earliest later answer counts",
			probes:  []probe{answered(0, 100, "a"), answered(5, 1, "a")},
			endMS:   10,
			maxWait: ms(6), unstalled: ms(6),
		},
		{
			// The whole machine paused 150 ms: the probe sent just before
			// waited through it and the prober could not send.
			name:      "a machine pause is marked stalled",
			probes:    []probe{answered(0, 0.1, "a"), answered(5, 150, "a"), answered(155, 0.1, "a")},
			endMS:     160,
			maxWait:   ms(150),
			unstalled: ms(0.1),
			episodes:  []gapreport.Episode{{From: t0.Add(ms(5)), Wait: ms(150), Stalled: true}},
		},
		{
			name:     "never answered after the last answer waits until the end",
			probes:   []probe{answered(0, 0.1, "a"), lost(5), lost(10)},
			endMS:    100,
			maxWait:  ms(95),
			episodes: []gapreport.Episode{{From: t0.Add(ms(5)), Wait: ms(95)}},
			// Not stalled: the prober kept sending.
			unstalled: ms(95),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := summarize(c.probes, t0.Add(ms(c.endMS)), thr)
			if s.MaxWait != c.maxWait || s.MaxWaitUnstalled != c.unstalled {
				t.Errorf("max wait %v (unstalled %v), want %v (%v)", s.MaxWait, s.MaxWaitUnstalled, c.maxWait, c.unstalled)
			}
			if len(s.Episodes) != len(c.episodes) {
				t.Fatalf("episodes %+v, want %+v", s.Episodes, c.episodes)
			}
			for i, e := range c.episodes {
				if got := s.Episodes[i]; !got.From.Equal(e.From) || got.Wait != e.Wait || got.Stalled != e.Stalled {
					t.Errorf("episode %d = %+v, want %+v", i, got, e)
				}
			}
		})
	}
}

func TestSummarizeCounts(t *testing.T) {
	s := summarize([]probe{answered(0, 1, "a"), answered(5, 3, "b"), lost(10), answered(15, 2, "b")}, t0.Add(ms(20)), 20*time.Millisecond)
	if s.Sent != 4 || s.Answered != 3 || s.ByName["a"] != 1 || s.ByName["b"] != 2 {
		t.Errorf("counts %+v", s)
	}
	if s.RTTP50 != ms(2) || s.RTTMax != ms(3) || s.MaxSendGap != ms(5) {
		t.Errorf("rtt p50 %v max %v, send gap %v", s.RTTP50, s.RTTMax, s.MaxSendGap)
	}
}

// syncBuffer is the probe's output, read while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestProbeAgainstServer runs the real server and prober over loopback;
// the server is gone for 300 ms in the middle, which must show as one
// unstalled episode of at least that long, and both names must be seen.
func TestProbeAgainstServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := func(name string, addr netip.AddrPort) (netip.AddrPort, func()) {
		conn, err := listen(addr, unix.IPPROTO_IP, unix.IP_PKTINFO)
		if err != nil {
			t.Fatal(err)
		}
		sctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- serve(sctx, conn, name) }()
		return conn.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort(), func() {
			stop()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	addr, stopFirst := start("first-server", netip.MustParseAddrPort("127.0.0.1:0"))
	out := &syncBuffer{}
	pctx, stopProbe := context.WithCancel(ctx)
	probeDone := make(chan error, 1)
	go func() { probeDone <- runProbe(pctx, out, addr, 5*time.Millisecond, 20*time.Millisecond) }()
	waitFor := func(what string) {
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the probe's output:\n%s", what, out.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("first first-server ")
	stopFirst()
	down := time.Now()
	time.Sleep(300 * time.Millisecond)
	_, stopSecond := start("second-server", addr)
	waitFor("first second-server ")
	up := time.Now()
	time.Sleep(50 * time.Millisecond)
	stopProbe()
	if err := <-probeDone; err != nil {
		t.Fatal(err)
	}
	stopSecond()

	var sum gapreport.Summary
	var eps []gapreport.Episode
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var kind struct{ Kind string }
		if err := json.Unmarshal([]byte(line), &kind); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		switch kind.Kind {
		case "summary":
			if err := json.Unmarshal([]byte(line), &sum); err != nil {
				t.Fatal(err)
			}
		case "episode":
			var e gapreport.Episode
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatal(err)
			}
			eps = append(eps, e)
		}
	}
	if sum.ByName["first-server"] == 0 || sum.ByName["second-server"] == 0 {
		t.Fatalf("answers by name %v; output:\n%s", sum.ByName, out.String())
	}
	// The server was gone for at least 300 ms. The first unanswered probe
	// may leave a little after it went (one interval, more on a loaded
	// machine), so only half of that is required; a prober blind to the
	// absence would report the loopback round trip, well under 1 ms.
	if sum.MaxWait < 150*time.Millisecond || sum.MaxWait > up.Sub(down)+time.Second {
		t.Errorf("max wait %v for a server gone %v", sum.MaxWait, up.Sub(down))
	}
	var longest gapreport.Episode
	for _, e := range eps {
		if e.Wait > longest.Wait {
			longest = e
		}
	}
	if longest.Wait != sum.MaxWait || longest.From.Before(down.Add(-time.Second)) {
		t.Errorf("longest episode %+v, max wait %v, server down at %v", longest, sum.MaxWait, down)
	}
}
