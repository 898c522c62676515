package hwprofiles

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrUnsupportedPairing is matched (errors.Is) by every *PairingError, so a
// caller can branch on "not supported" without parsing the reason.
var ErrUnsupportedPairing = errors.New("unsupported pairing")

// PairingError explains why a secondary cannot back up the given primaries.
// The Reason is a sentence meant for an operator: hmd's API and the web UI
// show it as it is.
type PairingError struct {
	Secondary string
	Primaries []string
	Reason    string
}

func (e *PairingError) Error() string {
	return fmt.Sprintf("secondary %s cannot back up %s: %s",
		e.Secondary, strings.Join(e.Primaries, " + "), e.Reason)
}

// Is makes errors.Is(err, ErrUnsupportedPairing) true for a *PairingError.
func (e *PairingError) Is(target error) bool { return target == ErrUnsupportedPairing }

// oneToOne is figure 2 of the seed ("MSE HA サポート ペア マトリクス"),
// transcribed cell by cell: oneToOne[primary][secondary] is true where the
// figure says Y. A missing cell is N. The 3365 is not in the figure; the
// seed's text says it pairs only with another 3365, so it gets its own row.
var oneToOne = map[string]map[string]bool{
	"3310":        {"3310": true, "3350": true, "3355": true},
	"3350":        {"3350": true, "3355": true},
	"3355":        {"3350": true, "3355": true},
	"3365":        {"3365": true},
	"VA-Low":      {"VA-Low": true, "VA-Standard": true, "VA-High": true},
	"VA-Standard": {"VA-Standard": true, "VA-High": true},
	"VA-High":     {"VA-High": true},
}

// nToOne is figure 3 of the seed ("MSE HA N:1 ペア マトリクス"): for each
// secondary model, the sets of two primaries it may back up, each set
// written sorted. Models absent from the map (3310, 3365, every VA) cannot
// be an N:1 secondary.
var nToOne = map[string][][2]string{
	"3350": {{"3310", "3310"}},
	"3355": {{"3310", "3310"}, {"3350", "3350"}, {"3310", "3350"}},
}

// MaxPrimaries is the most primaries one secondary may back up (seed: "1 つ
// のセカンダリ MSE では最大 2 つのプライマリ MSE をサポートできます").
const MaxPrimaries = 2

// CheckPairing reports whether secondary may back up primaries: one primary
// is 1:1 HA (figure 2), two primaries is N:1 HA (figure 3). It returns nil
// when the combination is supported and a *PairingError otherwise.
func CheckPairing(secondary Profile, primaries ...Profile) error {
	names := make([]string, len(primaries))
	for i, p := range primaries {
		names[i] = p.Model
	}
	refuse := func(format string, a ...any) error {
		return &PairingError{Secondary: secondary.Model, Primaries: names, Reason: fmt.Sprintf(format, a...)}
	}
	switch len(primaries) {
	case 0:
		return &PairingError{Secondary: secondary.Model, Primaries: []string{"nothing"}, Reason: "at least one primary is needed"}
	case 1:
		p := primaries[0]
		if oneToOne[p.Model][secondary.Model] {
			return nil
		}
		return refuse("%s", oneToOneReason(p, secondary))
	case MaxPrimaries:
	default:
		return refuse("a secondary backs up at most %d primaries", MaxPrimaries)
	}
	if secondary.Class == Virtual {
		return refuse("virtual appliances support 1:1 HA only")
	}
	for _, p := range primaries {
		if p.Class == Virtual {
			return refuse("virtual appliances support 1:1 HA only (%s is virtual)", p.Model)
		}
	}
	allowed, ok := nToOne[secondary.Model]
	if !ok {
		return refuse("a %s cannot be an N:1 secondary", secondary.Model)
	}
	pair := [2]string{names[0], names[1]}
	sort.Strings(pair[:])
	var options []string
	for _, a := range allowed {
		if a == pair {
			return nil
		}
		options = append(options, describePair(a))
	}
	return refuse("as an N:1 secondary a %s backs up only %s", secondary.Model, strings.Join(options, ", or "))
}

// oneToOneReason names the figure-2 rule a refused 1:1 pair breaks.
func oneToOneReason(primary, secondary Profile) string {
	switch {
	case primary.Model == "3365" || secondary.Model == "3365":
		return "a 3365 pairs only with another 3365"
	case primary.Class != secondary.Class:
		return "virtual appliances pair only with virtual appliances, physical only with physical"
	default:
		return "the secondary must be the same or a higher specification than the primary"
	}
}

func describePair(p [2]string) string {
	if p[0] == p[1] {
		return "two " + p[0] + "s"
	}
	return "one " + p[0] + " and one " + p[1]
}
