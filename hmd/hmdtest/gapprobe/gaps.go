package main

import (
	"slices"
	"time"

	"github.com/hafw/hafw/hmd/hmdtest/gapprobe/gapreport"
)

// probe is one request the prober sent and, when it came back, when the
// kernel received the answer and which node gave it.
type probe struct {
	sent     time.Time
	answered bool
	rx       time.Time
	name     string
}

// summarize computes the client's view of probes (in sending order) sent
// until end. A probe's wait is from its sending to the earliest answer
// received to it or to any later probe: what a client that sent at that
// moment and kept retrying would have waited. Unlike the time between two
// answers, a wait is not made longer by the prober itself pausing: while
// it sends nothing it measures nothing. Probes never followed by an answer
// wait until end.
func summarize(probes []probe, end time.Time, threshold time.Duration) gapreport.Summary {
	s := gapreport.Summary{Sent: len(probes), ByName: map[string]int{}}
	waits := make([]time.Duration, len(probes))
	var firstRx time.Time // earliest answer to this probe or a later one
	for i := len(probes) - 1; i >= 0; i-- {
		p := probes[i]
		if p.answered && (firstRx.IsZero() || p.rx.Before(firstRx)) {
			firstRx = p.rx
		}
		if firstRx.IsZero() {
			waits[i] = end.Sub(p.sent)
		} else {
			waits[i] = firstRx.Sub(p.sent)
		}
	}
	var rtts []time.Duration
	for i, p := range probes {
		if p.answered {
			s.Answered++
			s.ByName[p.name]++
			rtts = append(rtts, p.rx.Sub(p.sent))
		}
		if i > 0 {
			s.MaxSendGap = max(s.MaxSendGap, p.sent.Sub(probes[i-1].sent))
		}
	}
	// Episodes: maximal runs of probes waiting longer than threshold. A
	// run is stalled when the prober missed its schedule by more than
	// threshold next to one of the run's probes: the whole machine (the
	// kernel included) paused, and the probe sent just before the pause
	// waited through it.
	for i := 0; i < len(probes); {
		if waits[i] <= threshold {
			s.MaxWait = max(s.MaxWait, waits[i])
			s.MaxWaitUnstalled = max(s.MaxWaitUnstalled, waits[i])
			i++
			continue
		}
		e := gapreport.Episode{From: probes[i].sent}
		for ; i < len(probes) && waits[i] > threshold; i++ {
			e.Wait = max(e.Wait, waits[i])
			if (i > 0 && probes[i].sent.Sub(probes[i-1].sent) > threshold) ||
				(i+1 < len(probes) && probes[i+1].sent.Sub(probes[i].sent) > threshold) {
				e.Stalled = true
			}
		}
		s.Episodes = append(s.Episodes, e)
		s.MaxWait = max(s.MaxWait, e.Wait)
		if !e.Stalled {
			s.MaxWaitUnstalled = max(s.MaxWaitUnstalled, e.Wait)
		}
	}
	if len(rtts) > 0 {
		slices.Sort(rtts)
		s.RTTP50 = rtts[(len(rtts)-1)/2]
		s.RTTP99 = rtts[(len(rtts)*99+99)/100-1]
		s.RTTMax = rtts[len(rtts)-1]
	}
	return s
}
