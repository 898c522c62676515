// Package wizard is the appliance's setup wizard (the seed's setup.sh):
// the same sections, prompts and summary, as a step machine over an
// io.Reader and io.Writer so that it can be driven by a test, a serial
// console or a pseudo-terminal alike. It knows nothing of files or
// sockets: the caller passes the current configuration in and saves what
// comes out.
package wizard

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hafw/hafw/config"
)

// ErrAborted means the input ended before the operator confirmed; nothing
// is to be saved.
var ErrAborted = errors.New("setup aborted: input ended before the configuration was confirmed")

// errBack is an answer of "^": go back to the previous step.
var errBack = errors.New("back")

// Wizard asks the questions. Fill the fields, then call Run.
type Wizard struct {
	In  io.Reader
	Out io.Writer
	// Current is the configuration the answers start from (the stored one,
	// or config.Default() on a new appliance).
	Current config.Appliance
	// ServicesRunning reports whether the appliance's services run; the
	// HA role may not be switched then (the seed's refusal). Nil: never.
	ServicesRunning func() bool
	// Clock sets the system time entered when NTP stays disabled; nil:
	// the entered time is not applied (and the operator is told so).
	Clock Clock
	// Now is the current time; nil: time.Now.
	Now func() time.Time
	// ReadSecret prints prompt and reads one line without echo (a password
	// at a terminal); nil: secrets are read as lines of In like any answer
	// (a setup script on standard input).
	ReadSecret func(prompt string) (string, error)

	in *bufio.Reader
	// clockStep is the pending offset from a date and time the operator
	// entered; applied after confirmation.
	clockStep *time.Duration
}

// step is one section of the wizard.
type step struct {
	name string
	run  func(w *Wizard, a *config.Appliance) error
}

func steps() []step {
	return []step{
		{"password", (*Wizard).askPassword},
		{"hostname", (*Wizard).askHostname},
		{"domain", (*Wizard).askDomain},
		{"high availability", (*Wizard).askHA},
		{"eth0", (*Wizard).askEth0},
		{"eth1", (*Wizard).askEth1},
		{"dns", (*Wizard).askDNS},
		{"timezone", (*Wizard).askTimezone},
		{"ntp", (*Wizard).askNTP},
		{"confirm", (*Wizard).confirm},
	}
}

// errRestart is the summary's "no": go round again with the answers so far.
var errRestart = errors.New("restart")

// Run walks the steps until the operator confirms a valid configuration,
// and returns it. "^" at any prompt returns to the previous step.
func (w *Wizard) Run() (config.Appliance, error) {
	w.in = bufio.NewReader(w.In)
	a := w.Current
	all := steps()
	// history holds the configuration as it was before each step, so that
	// going back also undoes that step's answers.
	history := make([]config.Appliance, len(all))
	for i := 0; i < len(all); {
		history[i] = a
		err := all[i].run(w, &a)
		switch {
		case err == nil:
			i++
		case errors.Is(err, errBack):
			if i > 0 {
				i--
			}
			a = history[i]
		case errors.Is(err, errRestart):
			i = 0
		default:
			return config.Appliance{}, err
		}
	}
	w.applyClock()
	return a, nil
}

func (w *Wizard) printf(format string, args ...any) { fmt.Fprintf(w.Out, format, args...) }

// readLine reads one answer, trimmed. "^" is errBack; end of input is
// ErrAborted.
func (w *Wizard) readLine() (string, error) {
	line, err := w.in.ReadString('\n')
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		return "", ErrAborted
	}
	line = strings.TrimSpace(strings.TrimRight(line, "\r\n"))
	if line == "^" {
		return "", errBack
	}
	return line, nil
}

// readSecret prints prompt and reads one answer without echo where the
// input is a terminal (ReadSecret), untrimmed: spaces may be part of a
// password. What is already buffered (typed ahead, or a script) is read
// from the buffer. "^" is errBack; end of input is ErrAborted.
func (w *Wizard) readSecret(prompt string) (string, error) {
	var s string
	if w.ReadSecret == nil || w.in.Buffered() > 0 {
		w.printf("%s", prompt)
		line, err := w.in.ReadString('\n')
		if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
			return "", ErrAborted
		}
		s = strings.TrimRight(line, "\r\n")
	} else {
		var err error
		if s, err = w.ReadSecret(prompt); err != nil {
			return "", ErrAborted
		}
	}
	if s == "^" {
		return "", errBack
	}
	return s, nil
}

// ask prints prompt with its default in brackets and returns the answer,
// or def for an empty answer. check, if set, validates it; a bad answer is
// re-asked with the reason.
func (w *Wizard) ask(prompt, def string, check func(string) error) (string, error) {
	for {
		switch {
		case def != "":
			w.printf("%s [%s]: ", prompt, def)
		case prompt == "#?":
			w.printf("#? ")
		default:
			w.printf("%s: ", prompt)
		}
		ans, err := w.readLine()
		if err != nil {
			return "", err
		}
		if ans == "" {
			ans = def
		}
		if check != nil {
			if err := check(ans); err != nil {
				w.printf("Invalid answer: %v. Please try again.\n", err)
				continue
			}
		}
		return ans, nil
	}
}

// choice is an answer to "(Y)es/(S)kip/(U)se default".
type choice int

const (
	configure choice = iota
	skip
	useDefault
)

func (w *Wizard) ysu(question string) (choice, error) {
	var c choice
	_, err := w.ask(question+" (Y)es/(S)kip/(U)se default", "Yes", func(s string) error {
		switch strings.ToLower(s) {
		case "y", "yes":
			c = configure
		case "s", "skip":
			c = skip
		case "u", "use default", "default":
			c = useDefault
		default:
			return fmt.Errorf("answer Y, S or U")
		}
		return nil
	})
	return c, err
}

func yesNo(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "y", "yes":
		return true, nil
	case "n", "no":
		return false, nil
	}
	return false, fmt.Errorf("answer yes or no")
}

func (w *Wizard) askYesNo(prompt, def string) (bool, error) {
	var v bool
	_, err := w.ask(prompt, def, func(s string) error {
		var err error
		v, err = yesNo(s)
		return err
	})
	return v, err
}
