// Command hafw is the vendor's and the field engineer's tool: hardware
// profiles and pairing checks, licenses, the platform UDI, image builds,
// flashing and recovery reboots. Each subcommand lives in its own file of
// this package and only parses flags, calls the domain package and formats
// the answer.
package main

import (
	"context"
	"io"

	"github.com/hafw/hafw/internal/cli"
)

// commands is the table of subcommands; add one line per subcommand.
var commands = map[string]cli.Command{
	"profiles":      {Summary: "list the hardware profiles", Run: runProfiles},
	"pairing":       {Summary: "check whether a secondary may back up given primaries (1:1, N:1)", Run: runPairing},
	"udi":           {Summary: "print this machine's UDI and detected profile", Run: runUDI},
	"license":       {Summary: "vendor keys, issue, verify and summarize signed licenses", Run: runLicense},
	"build":         {Summary: "build firmware images (raw disk or OVA) for a profile", Run: runBuild},
	"logs":          {Summary: "on the appliance: read or follow hmd's or the init agent's log (-f)", Run: runLogs},
	"flash":         {Summary: "write a raw firmware image onto a disk, verified (--keep-data keeps hafw-data)", Run: runFlash},
	"reboot":        {Summary: "orderly reboot of this appliance; --recovery boots the recovery entry once", Run: runReboot},
	"hash-password": {Summary: "read a password on stdin, print its hash for hafw.password= (keeps it out of /proc/cmdline)", Run: runHashPassword},
	"upgrade":       {Summary: "boot slots: status, or install a signed update bundle into the inactive slot", Run: runUpgrade},
}

// usageError reports a command-line mistake (exit status 2).
func usageError(format string, a ...any) error { return cli.Usagef(format, a...) }

func main() { cli.Main(run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cli.Tool{Name: "hafw", Synopsis: "COMMAND [ARGS]", Commands: commands}.Run(ctx, args, stdout, stderr)
}
