package ha

import (
	"testing"
	"time"
)

// count returns how many actions of type T acts holds.
func count[T Action](acts []Action) int {
	n := 0
	for _, a := range acts {
		if _, ok := a.(T); ok {
			n++
		}
	}
	return n
}

// announcesFirst reports whether acts announce the VIP before they write
// any events-log row (each row is a write to disk a client would wait for).
func announcesFirst(acts []Action) bool {
	for _, a := range acts {
		switch a.(type) {
		case AnnounceVIP:
			return true
		case AppendEvent:
			return false
		}
	}
	return false
}

// TestFullCutBothHoldAnnounceOnlyTheNewerClaim walks a full cut between
// the two nodes (heartbeats and ARP) with no witness, the client reaching
// both: the primary goes quiet as soon as it suspects the silence (before
// the secondary can claim), the secondary's takeover announces; at the
// heal the newer claim re-announces at once and the older one releases
// at once.
func TestFullCutBothHoldAnnounceOnlyTheNewerClaim(t *testing.T) {
	p := primaryActive()
	s := secondaryActive(Automatic)

	// The cut: both stop hearing each other.
	p, acts := Step(p, PeerSuspect{}, t0)
	if !p.Quiet || count[QuietVIP](acts) != 1 || !p.HoldsVIP {
		t.Fatalf("primary at PeerSuspect: quiet %v holds %v, actions %#v; want it to hold the VIP quietly", p.Quiet, p.HoldsVIP, acts)
	}
	p, acts = Step(p, PeerDown{}, t0.Add(5*time.Second))
	if count[QuietVIP](acts) != 0 || count[AnnounceVIP](acts) != 0 || !p.Quiet {
		t.Fatalf("primary at PeerDown: %#v (quiet %v); want nothing more", acts, p.Quiet)
	}
	s, _ = run(s, t0.Add(5*time.Second), PeerSuspect{}, PeerDown{}, GatewayProbe{Reachable: true}, VIPProbe{}, InstanceStarted{})
	if s.State != FailoverActive || !s.HoldsVIP || s.Quiet {
		t.Fatalf("secondary after the takeover: %s holds %v quiet %v", s.State, s.HoldsVIP, s.Quiet)
	}

	// The heal: whoever hears the other first, the secondary's newer
	// claim keeps the VIP and announces it at once; the primary releases.
	heal := t0.Add(30 * time.Second)
	// The loser may hear the winner first: it releases, and the first
	// heartbeat the winner hears from it already says so. The winner must
	// still announce at once: during the cut the loser held the VIP
	// without the winner knowing, so clients may point at it.
	released, acts := Step(p, Heartbeat{State: FailoverActive, Epoch: s.Epoch, HoldsVIP: true}, heal)
	if released.HoldsVIP || released.State != Terminated || count[RemoveVIP](acts) != 1 {
		t.Fatalf("the loser hearing the winner first: %s holds %v, actions %#v; want it released at once", released.State, released.HoldsVIP, acts)
	}
	if _, acts := Step(s, Heartbeat{State: Terminated, Epoch: released.Epoch}, heal.Add(time.Millisecond)); count[AnnounceVIP](acts) != 1 || !announcesFirst(acts) {
		t.Fatalf("the winner whose first heartbeat after the cut says the loser let go: %#v; want an announcement at once, before any events-log row", acts)
	}

	// The winner hears the loser first.
	s, acts = Step(s, Heartbeat{State: PrimaryActive, Epoch: p.Epoch, HoldsVIP: true}, heal)
	if !s.HoldsVIP || count[AnnounceVIP](acts) != 1 || !announcesFirst(acts) {
		t.Fatalf("the winner at the heal: holds %v, actions %#v; want an announcement at once, before any events-log row", s.HoldsVIP, acts)
	}
	p, acts = Step(p, Heartbeat{State: FailoverActive, Epoch: s.Epoch, HoldsVIP: true}, heal)
	if p.HoldsVIP || p.Quiet || p.State != Terminated || count[RemoveVIP](acts) != 1 || count[AnnounceVIP](acts) != 0 {
		t.Fatalf("the loser at the heal: %s holds %v quiet %v, actions %#v; want it released at once", p.State, p.HoldsVIP, p.Quiet, acts)
	}
	// The loser's next heartbeat says it let go: the winner announces
	// again for clients that were still pointing at the loser.
	_, acts = Step(s, Heartbeat{State: Terminated, Epoch: p.Epoch}, heal.Add(10*time.Millisecond))
	if count[AnnounceVIP](acts) != 1 {
		t.Fatalf("the winner when the loser let go: %#v; want an announcement", acts)
	}
}

// TestQuietOnlyWhenThePeerMayClaim: a holder keeps announcing when its
// silent peer will not take over (manual failover, graceful shutdown), and
// a quiet holder that hears its peer again (a false alarm) announces.
func TestQuietOnlyWhenThePeerMayClaim(t *testing.T) {
	manual := primaryActive()
	manual.Config.FailoverType = Manual
	manual, acts := run(manual, t0, PeerSuspect{}, PeerDown{})
	if manual.Quiet || count[QuietVIP](acts) != 0 {
		t.Errorf("primary with manual failover went quiet: %#v", acts)
	}

	graceful := primaryActive()
	graceful, _ = Step(graceful, Heartbeat{State: GracefulShutdown, Graceful: true}, t0)
	graceful, acts = run(graceful, t0.Add(time.Second), PeerSuspect{}, PeerDown{})
	if graceful.Quiet || count[QuietVIP](acts) != 0 {
		t.Errorf("primary whose secondary shut down gracefully went quiet: %#v", acts)
	}

	// A serving secondary's silent primary may claim (a TERMINATED
	// primary does when the secondary is silent): quiet too.
	fa := failoverActive(Manual)
	fa, acts = Step(fa, PeerDown{}, t0.Add(time.Minute))
	if !fa.Quiet || count[QuietVIP](acts) != 1 {
		t.Errorf("FAILOVER_ACTIVE secondary with a silent primary: quiet %v, %#v", fa.Quiet, acts)
	}

	back := primaryActive()
	back, _ = Step(back, PeerSuspect{}, t0)
	back, acts = Step(back, Heartbeat{State: SecondaryActive}, t0.Add(time.Second))
	if back.Quiet || count[AnnounceVIP](acts) != 1 || !back.HoldsVIP {
		t.Errorf("quiet primary hearing its standby again: quiet %v holds %v, %#v; want it announcing again", back.Quiet, back.HoldsVIP, acts)
	}
	// A restart forgets quiet: the node owns nothing.
	restarted, _ := Step(fa, Started{}, t0.Add(2*time.Minute))
	if restarted.Quiet {
		t.Error("a restarted node is still quiet")
	}
}
