package replicate

import (
	"math/rand/v2"
	"testing"
)

func TestForkPoint(t *testing.T) {
	h := func(pairs ...uint64) []EpochStart {
		var out []EpochStart
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, EpochStart{Epoch: pairs[i], Seq: pairs[i+1]})
		}
		return out
	}
	cases := []struct {
		name        string
		a           []EpochStart
		aLast       uint64
		s           []EpochStart
		sLast, want uint64
	}{
		{"empty standby", h(2, 1), 100, nil, 0, 0},
		{"standby behind, same epoch", h(2, 1), 100, h(2, 1), 60, 60},
		{"standby equal", h(2, 1), 100, h(2, 1), 100, 100},
		// Primary (epoch 2) wrote 1..105, secondary got 1..100, took over
		// in epoch 3 and wrote 101..130: the old primary's 101..105 are
		// past the fork.
		{"failback after failover", h(2, 1, 3, 101), 130, h(2, 1), 105, 100},
		{"standby ahead in same epoch (async)", h(2, 1), 100, h(2, 1), 110, 100},
		{"two failovers", h(2, 1, 3, 50, 4, 80), 120, h(2, 1, 3, 50), 90, 79},
		{"both wrote in different epochs from 0", h(3, 1), 10, h(2, 1), 10, 0},
		{"epoch 0 prefix shared", h(3, 11), 20, h(2, 15), 30, 10},
	}
	for _, c := range cases {
		if got := ForkPoint(c.a, c.aLast, c.s, c.sLast); got != c.want {
			t.Errorf("%s: ForkPoint = %d, want %d", c.name, got, c.want)
		}
	}
}

// A model: logs are slices of epochs (entry i+1 written in log[i]). Random
// histories of failovers; ForkPoint must equal the brute-force longest
// common prefix.
func TestForkPointModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	hist := func(log []uint64) []EpochStart {
		var h []EpochStart
		for i, e := range log {
			h = Extend(h, uint64(i+1), e)
		}
		return h
	}
	for trial := range 5000 {
		common := make([]uint64, rng.IntN(20))
		epoch := uint64(0)
		for i := range common {
			if rng.IntN(5) == 0 {
				epoch++
			}
			common[i] = epoch
		}
		a, s := append([]uint64{}, common...), append([]uint64{}, common...)
		ea, es := epoch+1, epoch+2
		if rng.IntN(3) == 0 {
			ea = epoch // the active keeps writing in the shared epoch
		}
		for range rng.IntN(10) {
			a = append(a, ea)
		}
		for range rng.IntN(10) {
			s = append(s, es)
		}
		want := 0
		for want < min(len(a), len(s)) && a[want] == s[want] {
			want++
		}
		if got := ForkPoint(hist(a), uint64(len(a)), hist(s), uint64(len(s))); got != uint64(want) {
			t.Fatalf("trial %d: a=%v s=%v: ForkPoint = %d, want %d", trial, a, s, got, want)
		}
	}
}

func TestTruncateAndExtend(t *testing.T) {
	h := Extend(Extend(Extend(nil, 1, 2), 2, 2), 5, 3)
	if len(h) != 2 || h[1] != (EpochStart{Epoch: 3, Seq: 5}) {
		t.Fatalf("Extend: %v", h)
	}
	if got := Truncate(h, 4); len(got) != 1 {
		t.Fatalf("Truncate(4) = %v", got)
	}
	if got := Truncate(h, 5); len(got) != 2 {
		t.Fatalf("Truncate(5) = %v", got)
	}
}
