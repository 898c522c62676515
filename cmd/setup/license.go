package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cavaliergopher/grab/v3"

	"github.com/hafw/hafw/appliance"
	"github.com/hafw/hafw/board"
	"github.com/hafw/hafw/hwprofiles"
	"github.com/hafw/hafw/licensing"
)

// maxLicenseBytes caps what the license step reads from a file, a paste or
// a URL; a license file is a few hundred bytes.
const maxLicenseBytes = 64 << 10

// licenseStep is the wizard's last question on an appliance that is not
// activated: show the UDI the administrator needs to obtain a license, and
// install one from attached media, pasted text or a URL. Every license goes
// through licensing.Store.Install, which verifies it against the vendor key
// and this UDI and writes it atomically, so a refused license changes
// nothing.
type licenseStep struct {
	in    *bufio.Reader
	out   io.Writer
	id    appliance.Identity
	files appliance.LicenseFiles
	store licensing.Store
}

// activated reports whether the installed licenses activate the appliance
// (appliance.Entitlement, the rule the init agent and hmd apply).
func (s licenseStep) activated() (bool, error) {
	e, err := s.files.Load(s.id)
	if err != nil {
		return false, fmt.Errorf("reading installed licenses: %w", err)
	}
	return e.Activated(), nil
}

// run asks until the appliance is activated or the operator skips.
func (s licenseStep) run(ctx context.Context) error {
	ok, err := s.activated()
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "\n==============================================================\n")
	fmt.Fprintf(s.out, "  UDI of this appliance: %s\n", s.store.UDI)
	fmt.Fprintf(s.out, "==============================================================\n")
	if ok {
		fmt.Fprintf(s.out, "License: activated.\n")
		return nil
	}
	fmt.Fprintf(s.out, "License: not activated. Obtain an activation license for the UDI above.\n")
	for {
		fmt.Fprintf(s.out, "Install an activation license now? (F)ile/(P)aste/(U)RL/(S)kip [Skip]: ")
		ans, err := s.readLine()
		if err != nil {
			return nil // end of input: skipping is always safe
		}
		var data []byte
		switch strings.ToLower(ans) {
		case "", "s", "skip":
			fmt.Fprintf(s.out, "No license installed; install one later with: hafw license install FILE\n")
			return nil
		case "f", "file":
			data, err = s.fromFile()
		case "p", "paste":
			data, err = s.fromPaste()
		case "u", "url":
			data, err = s.fromURL(ctx)
		default:
			fmt.Fprintf(s.out, "Invalid answer: choose F, P, U or S.\n")
			continue
		}
		if err != nil {
			fmt.Fprintf(s.out, "License not installed: %v. Nothing was changed.\n", err)
			continue
		}
		l, err := s.store.Install(data)
		if err != nil {
			fmt.Fprintf(s.out, "License refused: %v. Nothing was changed.\n", err)
			continue
		}
		fmt.Fprintf(s.out, "Installed license %s (%s, count %d) in %s.\n", l.ID, l.Feature.Label(), l.Count, s.store.Dir)
		if ok, err := s.activated(); err != nil {
			return err
		} else if ok {
			fmt.Fprintf(s.out, "License: activated.\n")
			return nil
		}
		fmt.Fprintf(s.out, "This license does not activate the appliance; an activation license is still needed.\n")
	}
}

func (s licenseStep) readLine() (string, error) {
	line, err := s.in.ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// fromFile reads a license file, typically from mounted removable media.
func (s licenseStep) fromFile() ([]byte, error) {
	fmt.Fprintf(s.out, "License file path (e.g. on a mounted USB stick): ")
	p, err := s.readLine()
	if err != nil || p == "" {
		return nil, errors.New("no file given")
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	defer f.Close()
	return readCapped(f)
}

// fromPaste reads pasted license text up to an empty line.
func (s licenseStep) fromPaste() ([]byte, error) {
	fmt.Fprintf(s.out, "Paste the license text, then an empty line:\n")
	var b strings.Builder
	for {
		line, err := s.in.ReadString('\n')
		t := strings.TrimRight(line, "\r\n")
		if t == "" {
			break
		}
		b.WriteString(t + "\n")
		if b.Len() > maxLicenseBytes {
			return nil, fmt.Errorf("pasted text longer than %d bytes", maxLicenseBytes)
		}
		if err != nil {
			break
		}
	}
	if b.Len() == 0 {
		return nil, errors.New("nothing pasted")
	}
	return []byte(b.String()), nil
}

// fromURL downloads a license with grab, checked against the SHA-256 the
// vendor publishes with it. A download is a temporary file; unlike the
// image builder's cached fetcher nothing is kept.
func (s licenseStep) fromURL(ctx context.Context) ([]byte, error) {
	fmt.Fprintf(s.out, "License URL: ")
	url, err := s.readLine()
	if err != nil || !(strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://")) {
		return nil, fmt.Errorf("%q is not an http(s) URL", url)
	}
	fmt.Fprintf(s.out, "SHA-256 of the license file: ")
	sum, err := s.readLine()
	want, herr := hex.DecodeString(sum)
	if err != nil || herr != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("%q is not a SHA-256 (64 hex digits)", sum)
	}
	dir, err := os.MkdirTemp("", "hafw-license-")
	if err != nil {
		return nil, fmt.Errorf("downloading: %w", err)
	}
	defer os.RemoveAll(dir)
	req, err := grab.NewRequest(filepath.Join(dir, "license.lic"), url)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", url, err)
	}
	req = req.WithContext(ctx)
	req.SetChecksum(sha256.New(), want, true)
	resp := grab.NewClient().Do(req)
	if err := resp.Err(); err != nil {
		if errors.Is(err, grab.ErrBadChecksum) {
			return nil, fmt.Errorf("downloading %s: the file does not have SHA-256 %s", url, sum)
		}
		return nil, fmt.Errorf("downloading %s: %w", url, err)
	}
	f, err := os.Open(resp.Filename)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", url, err)
	}
	defer f.Close()
	return readCapped(f)
}

func readCapped(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxLicenseBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxLicenseBytes {
		return nil, fmt.Errorf("larger than %d bytes, not a license", maxLicenseBytes)
	}
	return b, nil
}

// newLicenseStep gathers what the step needs: the UDI and profile (flags,
// else the init agent's status), the vendor key in the image and the
// license directory on the data partition. ok is false, with the reason
// shown, when the appliance's identity is unknown.
func newLicenseStep(in *bufio.Reader, out io.Writer, dir, pubFile, udi, profile string) (licenseStep, bool, error) {
	if udi == "" {
		fmt.Fprintf(out, "The appliance's UDI is unknown (init agent not running); install licenses later with: hafw license install FILE\n")
		return licenseStep{}, false, nil
	}
	u, err := licensing.ParseUDI(udi)
	if err != nil {
		return licenseStep{}, false, fmt.Errorf("license step: %w", err)
	}
	p, err := hwprofiles.Lookup(profile)
	if err != nil {
		return licenseStep{}, false, fmt.Errorf("license step: %w", err)
	}
	// The identity the init agent resolved (appliance.Resolve) and reports.
	id := appliance.Identity{Platform: board.Platform{Profile: p, UDI: u}}
	files := appliance.LicenseFiles{Dir: dir, VendorKey: pubFile}
	store, err := files.Store(id)
	if err != nil {
		return licenseStep{}, false, fmt.Errorf("license step: %w", err)
	}
	return licenseStep{in: in, out: out, id: id, files: files, store: store}, true, nil
}
