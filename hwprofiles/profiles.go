// Package hwprofiles describes the appliance family — the physical models
// 3310, 3350, 3355, 3365 and the ESXi virtual appliances VA-Low,
// VA-Standard and VA-High — and the rules for pairing them in 1:1 and N:1
// high availability.
//
// The data lives in one embedded table (profiles.json) so that the image
// builder, the init agent and hmd all agree on the same numbers, and so that
// every number can carry the note of where it comes from. The package is
// pure: it knows nothing of the machine it runs on.
package hwprofiles

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Class tells physical appliances from virtual ones; it decides the image
// format and the pairing rules (virtual appliances pair only 1:1 with
// virtual appliances).
type Class string

// The two appliance classes.
const (
	Physical Class = "physical"
	Virtual  Class = "virtual"
)

// ImageFormat is what `hafw build` produces for a profile.
type ImageFormat string

// Image formats: a raw GPT disk to flash, or an OVA to deploy on ESXi.
const (
	RawDisk ImageFormat = "raw"
	OVA     ImageFormat = "ova"
)

// Service names a licensed appliance service; platform limits and licenses
// are counted per service.
type Service string

// The licensed services of the seed's License Summary.
const (
	CAS  Service = "cas"  // Context Aware Service: tracked elements
	WIPS Service = "wips" // wIPS: monitor-mode plus local-mode access points
	MSAP Service = "msap" // Mobility Services Advertisement Protocol: clicks
)

// NIC is one network port of the appliance as the firmware names it, and the
// kernel drivers that may drive it on this model (any one suffices).
type NIC struct {
	Name    string   `json:"name"`
	Drivers []string `json:"drivers"`
}

// Profile is one appliance model.
type Profile struct {
	Model     string   `json:"model"`
	Aliases   []string `json:"aliases"`
	ProductID string   `json:"product_id"`
	Class     Class    `json:"class"`
	// ImageFormat is the output of `hafw build` for this profile.
	ImageFormat ImageFormat `json:"image_format"`
	VCPU        int         `json:"vcpu"`
	MemoryMB    int         `json:"memory_mb"`
	DiskGB      int         `json:"disk_gb"`
	// DMIProducts are the SMBIOS product names that identify a physical
	// model; virtual profiles are told apart by size instead.
	DMIProducts    []string        `json:"dmi_products,omitempty"`
	NICs           []NIC           `json:"nics"`
	StorageDrivers []string        `json:"storage_drivers"`
	Limits         map[Service]int `json:"limits"`
	// Sources says where each group of numbers comes from ("seed" or
	// "chosen" with a reason).
	Sources map[string]string `json:"sources"`
}

// Drivers returns the kernel modules the profile's NICs and disks need,
// sorted and without repeats.
func (p Profile) Drivers() []string {
	seen := map[string]bool{}
	var out []string
	add := func(names []string) {
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	for _, nic := range p.NICs {
		add(nic.Drivers)
	}
	add(p.StorageDrivers)
	sort.Strings(out)
	return out
}

// PlatformLimit is the most a license may enable of svc on this profile.
func (p Profile) PlatformLimit(svc Service) int { return p.Limits[svc] }

//go:embed profiles.json
var profilesJSON []byte

// table is parsed once from the embedded data; a malformed table is a build
// defect caught by the package's tests, so parse panics rather than limps on.
var table = mustParse(profilesJSON)

func mustParse(data []byte) []Profile {
	var doc struct {
		Profiles []Profile `json:"profiles"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		panic(fmt.Sprintf("hwprofiles: embedded profiles.json: %v", err))
	}
	return doc.Profiles
}

// All returns every profile in table order (physical first, then virtual by size).
func All() []Profile {
	out := make([]Profile, len(table))
	copy(out, table)
	return out
}

// ErrUnknownModel is returned by Lookup for a name that matches no profile.
var ErrUnknownModel = errors.New("unknown appliance model")

// Lookup finds a profile by model name or alias, case-insensitively:
// "3355", "mse-3355", "VA-Standard" and "va-standard" all work.
func Lookup(name string) (Profile, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	for _, p := range table {
		if strings.ToLower(p.Model) == key {
			return p, nil
		}
		for _, a := range p.Aliases {
			if a == key {
				return p, nil
			}
		}
	}
	return Profile{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownModel, name, strings.Join(Models(), ", "))
}

// Models lists the model names in table order.
func Models() []string {
	out := make([]string, len(table))
	for i, p := range table {
		out[i] = p.Model
	}
	return out
}
