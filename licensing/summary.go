package licensing

import "github.com/hafw/hafw/hwprofiles"

// Summary is the seed's "MSE License Summary" for one machine: per service
// the platform limit of the profile, the installed count per license type,
// and the usable limit (installed, capped by the platform).
type Summary struct {
	Model string
	Class hwprofiles.Class
	// HasActivation is true when an activation license is installed.
	HasActivation bool
	Services      []ServiceSummary
}

// ServiceSummary is one service's block of the summary.
type ServiceSummary struct {
	Service       hwprofiles.Service
	PlatformLimit int
	Types         []TypeCount // one per feature of the service, in Features() order
	Installed     int         // sum over Types
	Effective     int         // min(Installed, PlatformLimit): what the service may use
}

// TypeCount is the installed count of one feature.
type TypeCount struct {
	Feature Feature
	Count   int
}

// Summarize totals verified licenses (Store.LoadVerified, or Verify) for a
// machine of the given profile. It does not verify anything itself.
func Summarize(profile hwprofiles.Profile, licenses []License) Summary {
	counts := map[Feature]int{}
	for _, l := range licenses {
		counts[l.Feature] += l.Count
	}
	s := Summary{Model: profile.Model, Class: profile.Class, HasActivation: counts[Activation] > 0}
	for _, svc := range []hwprofiles.Service{hwprofiles.CAS, hwprofiles.WIPS, hwprofiles.MSAP} {
		ss := ServiceSummary{Service: svc, PlatformLimit: profile.PlatformLimit(svc)}
		for _, f := range Features() {
			if f.Service() != svc {
				continue
			}
			ss.Types = append(ss.Types, TypeCount{Feature: f, Count: counts[f]})
			ss.Installed += counts[f]
		}
		ss.Effective = min(ss.Installed, ss.PlatformLimit)
		s.Services = append(s.Services, ss)
	}
	return s
}

// Activated reports whether the machine may run its services and join an
// HA pair: a physical appliance always is; a virtual appliance needs an
// activation license (L-MSE-7.0-K9), as the seed requires for VA HA.
func (s Summary) Activated() bool { return s.Class != hwprofiles.Virtual || s.HasActivation }

// Limit is the usable limit of svc: installed licenses capped by the platform.
func (s Summary) Limit(svc hwprofiles.Service) int {
	for _, ss := range s.Services {
		if ss.Service == svc {
			return ss.Effective
		}
	}
	return 0
}
