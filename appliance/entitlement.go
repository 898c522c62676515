package appliance

import (
	"fmt"

	"github.com/hafw/hafw/licensing"
)

// Entitlement is what the licenses installed on this appliance grant its
// identity. The zero Entitlement is that of an appliance whose identity is
// unknown: nothing can be verified, so nothing is activated.
type Entitlement struct {
	// Known is true when it was computed for a resolved identity.
	Known   bool
	Summary licensing.Summary
	// Licenses are the installed licenses valid for the identity now.
	Licenses []licensing.License
	// Problems are the installed files that were ignored, each naming the
	// file and why (wrong UDI, bad signature, expired, no vendor key).
	Problems []error
}

// Activated reports whether the appliance may run its services and take an
// HA role as far as licensing goes: a physical appliance always may, a
// virtual one needs its activation license (licensing.Summary.Activated).
func (e Entitlement) Activated() bool { return e.Known && e.Summary.Activated() }

// Entitle is the entitlement of id given the licenses verified for it.
func Entitle(id Identity, valid []licensing.License) Entitlement {
	return Entitlement{Known: id.Profile.Model != "", Summary: licensing.Summarize(id.Profile, valid), Licenses: valid}
}

// LicenseFiles locate the installed licenses and the key that verifies
// them (the image's vendor.pub).
type LicenseFiles struct {
	Dir       string
	VendorKey string
}

// Store is the license store bound to id's UDI, for installing and
// listing.
func (f LicenseFiles) Store(id Identity) (licensing.Store, error) {
	pub, err := licensing.ReadPublicKey(f.VendorKey)
	if err != nil {
		return licensing.Store{}, fmt.Errorf("vendor key: %w", err)
	}
	return licensing.Store{Dir: f.Dir, Pub: pub, UDI: id.UDI}, nil
}

// Load verifies the installed licenses against id. Without a vendor key
// nothing verifies: the entitlement is then that of no license, with the
// reason among its Problems (a physical appliance is still activated). An
// error means the license directory could not be read.
func (f LicenseFiles) Load(id Identity) (Entitlement, error) {
	store, err := f.Store(id)
	if err != nil {
		e := Entitle(id, nil)
		e.Problems = []error{fmt.Errorf("no license can be verified: %w", err)}
		return e, nil
	}
	valid, problems, err := store.LoadVerified()
	if err != nil {
		return Entitle(id, nil), fmt.Errorf("read licenses: %w", err)
	}
	e := Entitle(id, valid)
	e.Problems = problems
	return e, nil
}
