package humantime

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                     "0 seconds",
		500 * time.Millisecond:                "500 ms",
		2500 * time.Millisecond:               "2500 ms",
		time.Second:                           "1 second",
		10 * time.Second:                      "10 seconds",
		10*time.Second + 400*time.Millisecond: "10 seconds",
		30 * time.Minute:                      "30 minutes",
		29*time.Minute + 12*time.Second:       "29 minutes 12 seconds",
		time.Hour + 5*time.Minute:             "1 hour 5 minutes",
		49 * time.Hour:                        "2 days 1 hour",
		-3 * time.Second:                      "-3 seconds",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestTime(t *testing.T) {
	at := time.Date(2012, 2, 14, 9, 22, 26, 0, time.FixedZone("JST", 9*3600))
	if got := Time(at); got != "2012-Feb-14, 00:22:26 UTC" {
		t.Errorf("Time = %q", got)
	}
	if got := RFC3339("2012-02-14T00:22:26Z"); got != "2012-Feb-14, 00:22:26 UTC" {
		t.Errorf("RFC3339 = %q", got)
	}
	if got := RFC3339("tomorrow"); got != "tomorrow" {
		t.Errorf("an unparsable time was changed to %q", got)
	}
}
