// Package gapreport is what the gapprobe instrument reports, as JSON: the
// program writes it and the benchmarks that run it read it, with the one
// definition here.
package gapreport

import "time"

// Episode is one stretch in which a client would have waited longer than
// the reporting threshold for an answer.
type Episode struct {
	// From is when the first probe of the stretch was sent.
	From time.Time `json:"from"`
	// Wait is the longest wait of the stretch: from a probe's sending to
	// the first answer the client received after it.
	Wait time.Duration `json:"wait"`
	// Stalled says the prober itself could not send on time during the
	// stretch (a gap between two sends over the threshold): the machine,
	// not the network path, may have held the answer up.
	Stalled bool `json:"stalled"`
}

// Summary is what a run of the prober measured.
type Summary struct {
	Sent     int `json:"sent"`
	Answered int `json:"answered"`
	// MaxWait is the longest time a client sending at any moment of the
	// run (and retrying every interval) waited for an answer: the client
	// gap. MaxWaitUnstalled is the same over stretches in which the
	// prober kept its schedule.
	MaxWait          time.Duration `json:"max_wait"`
	MaxWaitUnstalled time.Duration `json:"max_wait_unstalled"`
	// MaxSendGap is the longest time between two sends: the prober's own
	// floor, since it sees nothing while it is not sending.
	MaxSendGap time.Duration `json:"max_send_gap"`
	RTTP50     time.Duration `json:"rtt_p50"`
	RTTP99     time.Duration `json:"rtt_p99"`
	RTTMax     time.Duration `json:"rtt_max"`
	// ByName counts answers per answering node.
	ByName   map[string]int `json:"by_name"`
	Episodes []Episode      `json:"episodes"`
}
