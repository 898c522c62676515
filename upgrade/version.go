package upgrade

import "strings"

// CompareVersions orders firmware version strings the way people read them:
// runs of digits compare as numbers ("1.10" > "1.9"), a pre-release suffix
// sorts before its release ("2.0~rc1" < "2.0-dev" < "2.0" < "2.0.1"), and
// a number is newer than a word at the same place. It returns -1, 0 or +1.
// Upgrades, downgrades and a bundle's minimum version all use it, so one
// order decides every question of "newer".
func CompareVersions(a, b string) int {
	for a != "" || b != "" {
		if a != "" && b != "" && isDigit(a[0]) && isDigit(b[0]) {
			na, ra := digitRun(a)
			nb, rb := digitRun(b)
			na, nb = strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if len(na) != len(nb) {
				return sign(len(na) - len(nb))
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = ra, rb
			continue
		}
		if c := sign(charKey(a) - charKey(b)); c != 0 {
			return c
		}
		a, b = a[1:], b[1:] // same key, so neither is empty
	}
	return 0
}

// charKey ranks the next character of a version: '~' and '-' (pre-release
// suffixes) below the end of the string, separators next, letters, then
// digits highest.
func charKey(s string) int {
	if s == "" {
		return 2
	}
	switch c := s[0]; {
	case c == '~':
		return 0
	case c == '-':
		return 1
	case c == '.':
		return 3
	case c == '+':
		return 4
	case isDigit(c):
		return 1000
	default:
		return 5 + int(c)
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digitRun(s string) (run, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}
