// Package humantime is how every operator-facing text (the console,
// gethainfo, hactl, the events log's remarks and refusals) writes times
// and durations, so that one page never mixes "2026-12-05T07:51:40Z",
// "30m0s" and "2026-Dec-05, 07:51:40 UTC". Machine-readable output (JSON,
// metrics, log lines) keeps RFC 3339 and Go durations.
package humantime

import (
	"fmt"
	"strings"
	"time"
)

// Layout is the seed's timestamp form, e.g. "2012-Feb-14, 00:22:26 UTC".
const Layout = "2006-Jan-02, 15:04:05 MST"

// Time is t in Layout, in UTC (appliances of a pair may sit in different
// time zones; their logs must compare at a glance).
func Time(t time.Time) string { return t.UTC().Format(Layout) }

// RFC3339 is Time of an RFC 3339 string as the API carries it; a string
// that does not parse is returned as it is, so nothing is lost.
func RFC3339(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return Time(t)
}

// Duration is d in words, to the second ("10 seconds", "30 minutes",
// "1 hour 5 minutes"), or in milliseconds below 10 seconds when it is not
// a whole number of seconds ("500 ms", "2500 ms"): a sub-second failover
// wait must not read as "0 seconds".
func Duration(d time.Duration) string {
	if d < 0 {
		return "-" + Duration(-d)
	}
	if d < 10*time.Second && d%time.Second != 0 {
		return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
	}
	d = d.Round(time.Second)
	if d == 0 {
		return "0 seconds"
	}
	var parts []string
	for _, u := range []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}} {
		n := d / u.size
		d -= n * u.size
		switch {
		case n == 1:
			parts = append(parts, "1 "+u.name)
		case n > 1:
			parts = append(parts, fmt.Sprintf("%d %ss", n, u.name))
		}
	}
	return strings.Join(parts, " ")
}
