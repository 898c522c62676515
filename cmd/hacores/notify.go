package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/hafw/hafw/cores"
	"github.com/hafw/hafw/notify"
)

// watchEvents publishes the core events this core records (seed 002's
// event notification rules: the settings' rules pick by type, core and
// severity) until ctx ends. The settings file has hmd's notify.json form:
// trap destinations, rules, syslog collector.
func watchEvents(ctx context.Context, st *cores.Store, svc *notify.Service, num int, node string, log *slog.Logger) {
	seen := map[string]bool{}
	first := true
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		evs, err := st.Events(ctx)
		if err == nil {
			recs := make([]notify.CoreRecord, len(evs))
			for i, e := range evs {
				recs[i] = notify.CoreRecord{Time: e.Time, Text: e.Text, Core: e.Core, By: e.By, Detail: e.Detail}
			}
			svc.Publish(notify.CoreWatch(seen, first, recs, num, node)...)
			first = false
		} else if ctx.Err() == nil {
			log.Warn("reading core events for notifications", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
