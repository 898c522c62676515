package wizard

import (
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hafw/hafw/config"
)

// zonesTxt is the zone names of the IANA zone.tab (one representative
// zone per country region, as tzselect offers them), checked in because
// Go's embedded tzdata has no exported list. A test loads every name.
//
//go:embed zones.txt
var zonesTxt string

// area is one entry of the seed's continent-or-ocean menu: the label the
// seed prints and the zone name prefix it stands for.
type area struct{ label, prefix string }

// areas is the seed's menu, entries 1 to 10; 11 is UTC and 12 goes back.
var areas = [...]area{
	{"Africa", "Africa/"}, {"Americas", "America/"}, {"Antarctica", "Antarctica/"},
	{"Arctic Ocean", "Arctic/"}, {"Asia", "Asia/"}, {"Atlantic Ocean", "Atlantic/"},
	{"Australia", "Australia/"}, {"Europe", "Europe/"}, {"Indian Ocean", "Indian/"},
	{"Pacific Ocean", "Pacific/"},
}

// zonesIn lists the zones of the table under prefix, in table order.
func zonesIn(prefix string) []string {
	var zs []string
	for _, z := range strings.Fields(zonesTxt) {
		if strings.HasPrefix(z, prefix) {
			zs = append(zs, z)
		}
	}
	return zs
}

// errMenu returns from a zone list to the continent menu.
var errMenu = errors.New("back to the continent menu")

func (w *Wizard) askTimezone(a *config.Appliance) error {
	w.printf("Current timezone=[%s]\n", a.Timezone)
	c, err := w.ysu("Configure timezone?")
	if err != nil || c == skip {
		return err
	}
	if c == useDefault {
		a.Timezone = config.Default().Timezone
		return nil
	}
	w.printf("Enter the current date and time.\n")
	for {
		zone, err := w.pickZone()
		if errors.Is(err, errMenu) {
			continue
		}
		if err != nil {
			return err
		}
		// The table and Go's tzdata come from different releases; the
		// configuration's own rule has the last word.
		probe := *a
		probe.Timezone = zone
		if err := fieldErr(probe.Validate(), "timezone"); err != nil {
			w.printf("Invalid answer: %v. Please try again.\n", err)
			continue
		}
		if zone == "UTC" {
			a.Timezone = zone // the seed goes straight on after "#? 11"
			return nil
		}
		w.printf("\nThe following information has been given:\n\n\t%s\n\nTherefore TZ='%s' will be used.\n", zone, zone)
		ok, err := w.menu("Is the above information OK?", []string{"Yes", "No"})
		if errors.Is(err, errBack) {
			continue
		}
		if err != nil {
			return err
		}
		if ok == 1 {
			a.Timezone = zone
			return nil
		}
	}
}

// pickZone shows the continent menu and then that area's zones. "^" or
// 12 in the continent menu leaves the step (errBack); "^" in a zone list
// returns to the continent menu (errMenu).
func (w *Wizard) pickZone() (string, error) {
	w.printf("Please identify a location so that time zone rules can be set correctly.\n")
	labels := make([]string, 0, len(areas)+2)
	for _, ar := range areas {
		labels = append(labels, ar.label)
	}
	labels = append(labels, "UTC - I want to use Coordinated Universal Time.", "Return to previous setup step (^).")
	n, err := w.menu("Please select a continent or ocean.", labels)
	if err != nil {
		return "", err
	}
	switch n {
	case len(areas) + 1:
		return "UTC", nil
	case len(areas) + 2:
		return "", errBack
	}
	zones := zonesIn(areas[n-1].prefix)
	n, err = w.menu("Please select one of the following time zone regions.", zones)
	if errors.Is(err, errBack) {
		return "", errMenu
	}
	if err != nil {
		return "", err
	}
	return zones[n-1], nil
}

// menu prints a numbered list the way the seed's tzselect does and reads
// a choice at "#? ", re-asking until it is a number of the list.
func (w *Wizard) menu(title string, items []string) (int, error) {
	w.printf("%s\n", title)
	for i, it := range items {
		w.printf("%2d) %s\n", i+1, it)
	}
	var n int
	_, err := w.ask("#?", "", func(s string) error {
		var err error
		n, err = strconv.Atoi(s)
		if err != nil || n < 1 || n > len(items) {
			return fmt.Errorf("enter a number from 1 to %d", len(items))
		}
		return nil
	})
	return n, err
}
