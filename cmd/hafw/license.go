package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hafw/hafw/appliance"
	"github.com/hafw/hafw/board"
	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hwprofiles"
	"github.com/hafw/hafw/internal/atomicfile"
	"github.com/hafw/hafw/internal/cli"
	"github.com/hafw/hafw/licensing"
)

const licenseUsage = `usage:
  hafw license keygen --private FILE --public FILE
  hafw license issue --key FILE --udi UDI --feature F --count N [--expires YYYY-MM-DD] [--issued YYYY-MM-DD] [--id ID] [--out FILE]
  hafw license verify --pub FILE --udi UDI LICENSE...
  hafw license summary --pub FILE --udi UDI [--profile MODEL] LICENSE...
  hafw license install [--dir DIR] [--pub FILE] [--udi UDI] LICENSE...
  hafw license list [--dir DIR] [--pub FILE] [--udi UDI]
  (install and list default --udi to this appliance's, as hafw udi detects it)
  hafw license remove [--dir DIR] ID...`

// runLicense is the vendor's (keygen, issue) and the administrator's
// (verify, summary) license tool.
func runLicense(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("%s", licenseUsage)
	}
	sub := map[string]func([]string, io.Writer, io.Writer) error{
		"keygen": licenseKeygen, "issue": licenseIssue, "verify": licenseVerify, "summary": licenseSummary,
		"install": licenseInstall, "list": licenseList, "remove": licenseRemove,
	}[args[0]]
	if sub == nil {
		return usageError("unknown subcommand %q\n%s", args[0], licenseUsage)
	}
	return sub(args[1:], stdout, stderr)
}

// parseFlags parses fs and turns mistakes into usage errors; done is true
// after -h.
func parseFlags(fs *flag.FlagSet, args []string) (done bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return false, usageError("%v", err)
	}
	return false, nil
}

func licenseKeygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("license keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	privPath := fs.String("private", "", "where to write the new vendor private key (kept secret, mode 0600)")
	pubPath := fs.String("public", "", "where to write the vendor public key (baked into images)")
	if done, err := parseFlags(fs, args); done || err != nil {
		return err
	}
	if *privPath == "" || *pubPath == "" || fs.NArg() != 0 {
		return usageError("need --private FILE and --public FILE, nothing else")
	}
	pub, priv, err := licensing.GenerateKey()
	if err != nil {
		return err
	}
	if err := licensing.WritePrivateKey(*privPath, priv); err != nil {
		return err
	}
	if err := licensing.WritePublicKey(*pubPath, pub); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (private, keep it secret) and %s (public)\n", *privPath, *pubPath)
	return nil
}

func licenseIssue(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("license issue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyPath := fs.String("key", "", "vendor private key file")
	udiText := fs.String("udi", "", "UDI of the machine, PID:VID:SN")
	feature := fs.String("feature", "", "feature: "+featureNames())
	count := fs.Int("count", 0, "how many (1 for activation)")
	expires := fs.String("expires", "", "last valid day, YYYY-MM-DD (default: never)")
	issued := fs.String("issued", "", "issue date, YYYY-MM-DD (default: today)")
	id := fs.String("id", "", "license ID (default: random)")
	out := fs.String("out", "", "write the license to FILE instead of stdout")
	if done, err := parseFlags(fs, args); done || err != nil {
		return err
	}
	if *keyPath == "" || *udiText == "" || *feature == "" || fs.NArg() != 0 {
		return usageError("need --key, --udi, --feature and --count")
	}
	l := licensing.License{ID: *id, Feature: licensing.Feature(*feature), Count: *count, Issued: time.Now()}
	if !l.Feature.Known() {
		return usageError("--feature %q: want one of %s", *feature, featureNames())
	}
	var err error
	if l.UDI, err = licensing.ParseUDI(*udiText); err != nil {
		return usageError("--udi: %v", err)
	}
	if *issued != "" {
		if l.Issued, err = licensing.ParseDate(*issued); err != nil {
			return usageError("--issued: %v", err)
		}
	}
	if *expires != "" {
		if l.Expires, err = licensing.ParseDate(*expires); err != nil {
			return usageError("--expires: %v", err)
		}
	}
	priv, err := licensing.ReadPrivateKey(*keyPath)
	if err != nil {
		return err
	}
	data, err := licensing.Issue(priv, l)
	if err != nil {
		return usageError("%v", err)
	}
	if *out == "" {
		_, err = stdout.Write(data)
		return err
	}
	return atomicfile.Write(*out, data, 0o644)
}

func featureNames() string {
	var names []string
	for _, f := range licensing.Features() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

// checkArgs is what verify and summary share: the vendor key, the UDI and
// the license files, each verified.
type checkArgs struct {
	pub     ed25519.PublicKey
	udi     licensing.UDI
	valid   []licensing.License
	refused int
	files   int
}

// verifyFiles reads --pub and --udi from fs, verifies every file argument
// and reports each refused one on stderr as "FILE: reason".
func verifyFiles(fs *flag.FlagSet, pubPath, udiText string, stderr io.Writer) (checkArgs, error) {
	var c checkArgs
	if pubPath == "" || udiText == "" || fs.NArg() == 0 {
		return c, usageError("need --pub FILE, --udi UDI and at least one license file")
	}
	var err error
	if c.udi, err = licensing.ParseUDI(udiText); err != nil {
		return c, usageError("--udi: %v", err)
	}
	if c.pub, err = licensing.ReadPublicKey(pubPath); err != nil {
		return c, err
	}
	now := time.Now()
	for _, path := range fs.Args() {
		c.files++
		data, err := os.ReadFile(path)
		if err == nil {
			var l licensing.License
			if l, err = licensing.Verify(data, c.pub, c.udi, now); err == nil {
				c.valid = append(c.valid, l)
				continue
			}
		}
		c.refused++
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
	}
	return c, nil
}

func (c checkArgs) result() error {
	if c.refused > 0 {
		return &cli.ExitError{Code: 1, Msg: fmt.Sprintf("%d of %d license file(s) refused", c.refused, c.files)}
	}
	return nil
}

func licenseVerify(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("license verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pubPath := fs.String("pub", "", "vendor public key file")
	udiText := fs.String("udi", "", "UDI of this machine, PID:VID:SN")
	if done, err := parseFlags(fs, args); done || err != nil {
		return err
	}
	c, err := verifyFiles(fs, *pubPath, *udiText, stderr)
	if err != nil {
		return err
	}
	for _, l := range c.valid {
		fmt.Fprintf(stdout, "ok: %s %s %d %s\n", l.ID, l.Feature, l.Count, expiry(l))
	}
	return c.result()
}

func expiry(l licensing.License) string {
	if l.Expires.IsZero() {
		return "never expires"
	}
	return "valid through " + l.Expires.Format("2006-01-02")
}

func licenseSummary(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("license summary", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pubPath := fs.String("pub", "", "vendor public key file")
	udiText := fs.String("udi", "", "UDI of this machine, PID:VID:SN")
	model := fs.String("profile", "", "profile of this machine (needed for a virtual appliance: all VA sizes share one PID)")
	if done, err := parseFlags(fs, args); done || err != nil {
		return err
	}
	c, err := verifyFiles(fs, *pubPath, *udiText, stderr)
	if err != nil {
		return err
	}
	profile, err := summaryProfile(*model, c.udi)
	if err != nil {
		return err
	}
	ent := appliance.Entitle(appliance.Identity{Platform: board.Platform{Profile: profile, UDI: c.udi}}, c.valid)
	s := ent.Summary
	status := "Activated"
	if !ent.Activated() {
		status = "NOT activated (no activation license L-MSE-7.0-K9)"
	}
	fmt.Fprintf(stdout, "MSE License Summary\nUDI: %s\nProfile: %s\nStatus: %s\n\n", c.udi, profile.Model, status)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tPLATFORM LIMIT\tTYPE\tINSTALLED LIMIT\tUSABLE")
	for _, ss := range s.Services {
		for i, tc := range ss.Types {
			svc, limit, usable := "", "", ""
			if i == 0 {
				svc, limit, usable = strings.ToUpper(string(ss.Service)), strconv.Itoa(ss.PlatformLimit), strconv.Itoa(ss.Effective)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", svc, limit, tc.Feature.Label(), tc.Count, usable)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return c.result()
}

// summaryProfile is the --profile given, or the one profile whose product ID
// the UDI carries.
func summaryProfile(model string, udi licensing.UDI) (hwprofiles.Profile, error) {
	if model != "" {
		p, err := hwprofiles.Lookup(model)
		if err != nil {
			return hwprofiles.Profile{}, usageError("--profile: %v", err)
		}
		if p.ProductID != udi.PID {
			return hwprofiles.Profile{}, usageError("--profile %s has product ID %s, the UDI says %s", p.Model, p.ProductID, udi.PID)
		}
		return p, nil
	}
	var matches []hwprofiles.Profile
	for _, p := range hwprofiles.All() {
		if p.ProductID == udi.PID {
			matches = append(matches, p)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return hwprofiles.Profile{}, usageError("no profile has product ID %s", udi.PID)
	}
	names := make([]string, len(matches))
	for i, p := range matches {
		names[i] = p.Model
	}
	return hwprofiles.Profile{}, usageError("product ID %s is shared by %s: give --profile", udi.PID, strings.Join(names, ", "))
}

// storeOpts are the flags of the commands that work on a machine's license
// directory; the defaults are the appliance's own paths.
type storeOpts struct {
	dir, pub, udi *string
	// root, config and profileFile locate what board detection needs when
	// --udi is not given (fixture trees in tests).
	root, config, profileFile *string
}

func storeFlags(fs *flag.FlagSet) storeOpts {
	return storeOpts{
		dir:         dirFlag(fs),
		pub:         fs.String("pub", licensing.DefaultVendorKeyPath, "vendor public key file"),
		udi:         fs.String("udi", "", "UDI of this machine, PID:VID:SN (default: detected, as hafw udi shows it)"),
		root:        fs.String("root", "/", "root of the sysfs/procfs tree board detection reads"),
		config:      fs.String("config", config.Layout{Root: config.DefaultRoot}.ConfigFile(), "appliance configuration (hostname and profile for the detected UDI)"),
		profileFile: fs.String("profile-file", "/etc/hafw/profile", "the image's profile file (profile override for the detected UDI)"),
	}
}

func dirFlag(fs *flag.FlagSet) *string {
	return fs.String("dir", config.Layout{Root: config.DefaultRoot}.LicenseDir(), "license directory")
}

// openStore builds the Store from the flags.
func (o storeOpts) openStore() (licensing.Store, error) {
	s := licensing.Store{Dir: *o.dir}
	var err error
	if *o.udi == "" {
		if s.UDI, err = o.detectUDI(); err != nil {
			return s, &cli.ExitError{Code: 1, Msg: fmt.Sprintf("no --udi given and %v", err)}
		}
	} else if s.UDI, err = licensing.ParseUDI(*o.udi); err != nil {
		return s, usageError("--udi: %v", err)
	}
	if s.Pub, err = licensing.ReadPublicKey(*o.pub); err != nil {
		return s, err
	}
	return s, nil
}

// detectUDI is this appliance's UDI as the init agent resolves it at boot
// (identify), so that an operator on the appliance need not copy it by
// hand.
func (o storeOpts) detectUDI() (licensing.UDI, error) {
	id, err := identify(*o.root, *o.config, *o.profileFile, "", "")
	if err != nil {
		return licensing.UDI{}, fmt.Errorf("detecting the UDI: %w", err)
	}
	return id.UDI, nil
}

func licenseInstall(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("license install", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := storeFlags(fs)
	if done, err := parseFlags(fs, args); done || err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError("need at least one license file")
	}
	s, err := opts.openStore()
	if err != nil {
		return err
	}
	refused := 0
	for _, path := range fs.Args() {
		data, err := os.ReadFile(path)
		if err == nil {
			var l licensing.License
			if l, err = s.Install(data); err == nil {
				fmt.Fprintf(stdout, "installed %s: %s %s %d\n", path, l.ID, l.Feature, l.Count)
				continue
			}
		}
		refused++
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
	}
	if refused > 0 {
		return &cli.ExitError{Code: 1, Msg: fmt.Sprintf("%d of %d license file(s) refused", refused, fs.NArg())}
	}
	return nil
}

func licenseList(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("license list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := storeFlags(fs)
	if done, err := parseFlags(fs, args); done || err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("unexpected arguments %q", fs.Args())
	}
	s, err := opts.openStore()
	if err != nil {
		return err
	}
	all, err := s.List()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tFEATURE\tCOUNT\tEXPIRES\tSTATUS")
	for _, in := range all {
		status, id := "valid", in.License.ID
		if in.Err != nil {
			status = in.Err.Error()
		}
		if id == "" {
			id = "?"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", id, in.License.Feature, in.License.Count, expiry(in.License), status)
	}
	return tw.Flush()
}

func licenseRemove(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("license remove", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := dirFlag(fs)
	if done, err := parseFlags(fs, args); done || err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError("need at least one license ID")
	}
	// Removing needs no key: an expired or foreign license can go too.
	s := licensing.Store{Dir: *dir}
	for _, id := range fs.Args() {
		if err := s.Remove(id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s\n", id)
	}
	return nil
}
