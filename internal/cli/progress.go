package cli

import (
	"fmt"
	"io"
)

// Progress prints long work's progress a line per stage and per tenth of
// it, readable on a terminal and in a script's log alike; a stage of
// unknown size gets its first line only.
type Progress struct {
	W     io.Writer
	stage string
	tenth int64
}

// Show reports done of total bytes of stage (total ≤ 0: unknown).
func (p *Progress) Show(stage string, done, total int64) {
	if stage == "" {
		return
	}
	if total <= 0 {
		if stage != p.stage {
			p.stage, p.tenth = stage, 0
			fmt.Fprintf(p.W, "%s…\n", stage)
		}
		return
	}
	tenth := done * 10 / total
	if stage == p.stage && tenth <= p.tenth {
		return
	}
	p.stage, p.tenth = stage, tenth
	fmt.Fprintf(p.W, "%s: %d%% (%.1f of %.1f MiB)\n", stage, tenth*10, float64(done)/(1<<20), float64(total)/(1<<20))
}
