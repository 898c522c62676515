package wizard

import (
	"fmt"
	"time"

	"github.com/hafw/hafw/config"
)

// Clock steps the system clock by an offset; osnet.SystemClock is the
// real one. Tests pass a recorder, so no test ever moves the host clock.
type Clock interface {
	Step(offset time.Duration) error
}

// dateLayout is the form the operator types the current date and time in.
const dateLayout = "2006-01-02 15:04:05"

// askDateTime is the seed's "you will be prompted to enter the current
// date and time" when NTP stays off. The answer is kept as an offset from
// the clock at the time of typing and applied only after the summary is
// confirmed, so that a "no" or ^ later on leaves the clock alone. Enter
// (the current time as default) keeps the clock as it is.
func (w *Wizard) askDateTime(a *config.Appliance) error {
	loc, err := time.LoadLocation(a.Timezone)
	if err != nil {
		loc = time.UTC
	}
	now := w.now().In(loc)
	def := now.Format(dateLayout)
	var typed time.Time
	ans, err := w.ask(fmt.Sprintf("Enter the current date and time (YYYY-MM-DD HH:MM:SS, %s)", loc), def, func(s string) error {
		var err error
		typed, err = time.ParseInLocation(dateLayout, s, loc)
		if err != nil {
			return fmt.Errorf("%q is not a date and time in the form YYYY-MM-DD HH:MM:SS", s)
		}
		if y := typed.Year(); y < 2000 || y > 2099 {
			return fmt.Errorf("the year %d is out of range (2000 to 2099)", y)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if ans == def {
		return nil
	}
	off := typed.Sub(now)
	w.clockStep = &off
	return nil
}

func (w *Wizard) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// applyClock steps the clock by the confirmed offset. A failure is
// reported but does not undo the confirmed configuration.
func (w *Wizard) applyClock() {
	if w.clockStep == nil {
		return
	}
	if w.Clock == nil {
		w.printf("The clock cannot be set here; set the date and time with NTP or by hand.\n")
		return
	}
	if err := w.Clock.Step(*w.clockStep); err != nil {
		w.printf("The clock could not be set: %v\n", err)
		return
	}
	w.printf("The clock has been set to %s.\n", w.now().Format(dateLayout+" MST"))
}
