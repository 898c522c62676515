// Package multicall runs one of several commands linked into a single
// binary, chosen by the name the binary was started as. The image builder
// links every appliance command into one executable (one Go runtime and one
// copy of the shared packages instead of one per command) and installs it
// once, with a symbolic link per command name; the kernel starting /init,
// the init agent starting /bin/hmd and an operator typing hactl all reach
// the same file, and argv[0] says which command to run.
package multicall

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ErrUnknown is returned by Resolve for a name that is not a command.
var ErrUnknown = errors.New("unknown command")

// Resolve returns the command that args (a process's argv) asks for and
// the argv that command must see. A binary started through a link runs the
// command the link is named after, with argv unchanged; started under its
// own name self, it takes the command from the first argument, the way
// busybox does (hafw-multi hactl status), and the command sees argv from
// there on.
func Resolve(self string, names []string, args []string) (string, []string, error) {
	if len(args) == 0 {
		return "", nil, fmt.Errorf("%w: no argv[0]", ErrUnknown)
	}
	name := filepath.Base(args[0])
	if name == self {
		if len(args) < 2 {
			return "", nil, fmt.Errorf("%w: usage: %s COMMAND [ARGS]; commands: %s", ErrUnknown, self, strings.Join(names, " "))
		}
		args = args[1:]
		name = filepath.Base(args[0])
	}
	if !slices.Contains(names, name) {
		return "", nil, fmt.Errorf("%w %q; commands: %s", ErrUnknown, name, strings.Join(names, " "))
	}
	return name, args, nil
}

// Main runs the command os.Args names among cmds (name → the command's
// main function) and returns when it does; a command that exits with a
// status calls os.Exit itself, as it does in its own binary. An unknown
// name exits with status 2.
func Main(self string, cmds map[string]func()) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	slices.Sort(names)
	name, args, err := Resolve(self, names, os.Args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", self, err)
		os.Exit(2)
	}
	os.Args = args
	cmds[name]()
}
