package replicate

// validHistory: epochs and start sequence numbers strictly increase.
func validHistory(h []EpochStart) bool {
	for i := 1; i < len(h); i++ {
		if h[i].Epoch <= h[i-1].Epoch || h[i].Seq <= h[i-1].Seq {
			return false
		}
	}
	return len(h) == 0 || h[0].Seq >= 1
}

// EpochAt is the epoch entry seq was written in according to history h,
// and the first sequence number of that epoch's run. Before the first
// recorded epoch (and for seq 0) it is epoch 0 starting at 1.
func EpochAt(h []EpochStart, seq uint64) (epoch, start uint64) {
	epoch, start = 0, 1
	for _, e := range h {
		if e.Seq > seq {
			break
		}
		epoch, start = e.Epoch, e.Seq
	}
	return epoch, start
}

// ForkPoint is the last sequence number two logs share: the largest p not
// beyond either log's end at which both histories name the same epoch.
// Only one node writes in an epoch and a standby only ever appends the
// active's entries in order, so equal (seq, epoch) means an equal entry and
// an equal log up to it. Entries of the standby after the fork point were
// never acknowledged by the node that now serves: they are undone and
// quarantined, and shipping resumes at ForkPoint+1.
func ForkPoint(active []EpochStart, activeLast uint64, standby []EpochStart, standbyLast uint64) uint64 {
	p := min(activeLast, standbyLast)
	for p > 0 {
		ea, sa := EpochAt(active, p)
		es, ss := EpochAt(standby, p)
		if ea == es {
			return p
		}
		// Both histories are constant above max(sa, ss); jump below it.
		p = max(sa, ss) - 1
	}
	return 0
}

// Extend returns h with entry (seq, epoch) appended: a new run starts when
// the epoch changes. It is how both the writer and the standby keep their
// history as entries arrive.
func Extend(h []EpochStart, seq, epoch uint64) []EpochStart {
	if len(h) > 0 && h[len(h)-1].Epoch == epoch {
		return h
	}
	if len(h) == 0 && epoch == 0 {
		return h
	}
	return append(h, EpochStart{Epoch: epoch, Seq: seq})
}

// Truncate returns h without the runs that start after seq (the history of
// a log undone back to seq).
func Truncate(h []EpochStart, seq uint64) []EpochStart {
	for i, e := range h {
		if e.Seq > seq {
			return h[:i:i]
		}
	}
	return h
}
