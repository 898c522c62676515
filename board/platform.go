package board

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hafw/hafw/hwprofiles"
	"github.com/hafw/hafw/licensing"
)

// Hypervisor names what the firmware runs on. Only BareMetal (a physical
// appliance) and VMware (an ESXi virtual appliance) are products; the other
// values exist to say clearly what an unsupported machine is.
type Hypervisor string

// Hypervisors told apart.
const (
	BareMetal  Hypervisor = "bare-metal"
	VMware     Hypervisor = "vmware"
	KVM        Hypervisor = "kvm"
	Xen        Hypervisor = "xen"
	HyperV     Hypervisor = "hyper-v"
	VirtualBox Hypervisor = "virtualbox"
	OtherVM    Hypervisor = "other-vm"
)

// Facts are the raw observations profile detection is decided from; Classify
// is a pure function of them, so every case is testable with fixtures.
type Facts struct {
	DMI Identity
	// CPUHypervisor is the "hypervisor" flag of /proc/cpuinfo: the CPU says
	// it runs under a hypervisor, whatever DMI claims.
	CPUHypervisor bool
	// SysHypervisor is /sys/hypervisor/type (Xen sets it).
	SysHypervisor string
	CPUs          int
	MemoryMB      int // MemTotal, a little below the configured memory
}

// ReadFacts reads DMI, /proc/cpuinfo, /proc/meminfo and /sys/hypervisor.
func ReadFacts(s System) (Facts, error) {
	var f Facts
	var err error
	if f.DMI, err = ReadIdentity(s); err != nil {
		return Facts{}, err
	}
	cpuinfo, err := s.readOptional("proc/cpuinfo")
	if err != nil {
		return Facts{}, err
	}
	f.CPUs, f.CPUHypervisor = ParseCPUInfo(cpuinfo)
	meminfo, err := s.readOptional("proc/meminfo")
	if err != nil {
		return Facts{}, err
	}
	if f.MemoryMB, err = ParseMemInfo(meminfo); err != nil {
		return Facts{}, fmt.Errorf("%s: %w", s.path("proc/meminfo"), err)
	}
	if f.SysHypervisor, err = s.readOptional("sys/hypervisor/type"); err != nil {
		return Facts{}, err
	}
	return f, nil
}

// ParseCPUInfo counts the processors in /proc/cpuinfo and reports whether
// any of them carries the "hypervisor" flag.
func ParseCPUInfo(text string) (cpus int, hypervisor bool) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "processor":
			cpus++
		case "flags":
			for _, flag := range strings.Fields(v) {
				if flag == "hypervisor" {
					hypervisor = true
				}
			}
		}
	}
	return cpus, hypervisor
}

// ParseMemInfo returns MemTotal from /proc/meminfo in MiB.
func ParseMemInfo(text string) (int, error) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && fields[0] == "MemTotal:" && fields[2] == "kB" {
			kb, err := strconv.Atoi(fields[1])
			if err != nil || kb < 0 {
				return 0, fmt.Errorf("parsing MemTotal %q: not a number of kB", fields[1])
			}
			return kb / 1024, nil
		}
	}
	return 0, errors.New("no MemTotal line in meminfo")
}

// DetectHypervisor decides what the machine is from its facts. DMI is read
// first because it names the product (VMware's "VMware Virtual Platform" or
// "VMware7,1"); the CPU flag and /sys/hypervisor catch virtual machines
// whose DMI is absent or says nothing.
func DetectHypervisor(f Facts) Hypervisor {
	vendor, product := strings.ToLower(f.DMI.Vendor), strings.ToLower(f.DMI.Product)
	switch {
	case strings.Contains(vendor, "vmware") || strings.HasPrefix(product, "vmware"):
		return VMware
	case strings.Contains(vendor, "qemu") || strings.Contains(product, "kvm") || strings.HasPrefix(product, "standard pc ("):
		return KVM
	case strings.Contains(vendor, "xen") || f.SysHypervisor == "xen":
		return Xen
	case strings.Contains(vendor, "microsoft") && strings.Contains(product, "virtual machine"):
		return HyperV
	case strings.Contains(vendor, "innotek") || strings.Contains(product, "virtualbox"):
		return VirtualBox
	case f.CPUHypervisor || f.SysHypervisor != "":
		return OtherVM
	}
	return BareMetal
}

// Platform is what the firmware concluded about the machine: the profile it
// runs as and the UDI its licenses are bound to.
type Platform struct {
	Identity   Identity
	Hypervisor Hypervisor
	Profile    hwprofiles.Profile
	UDI        licensing.UDI
	// Overridden is true when the profile came from an override (appliance
	// configuration or hafw.profile= on the kernel command line) rather
	// than from the hardware.
	Overridden bool
	CPUs       int
	MemoryMB   int
}

// ErrNotAppliance is matched (errors.Is) by *NotApplianceError.
var ErrNotAppliance = errors.New("not an appliance")

// NotApplianceError says that the hardware is neither a known physical
// appliance nor a VMware virtual appliance of a supported size, and what it
// is instead.
type NotApplianceError struct {
	Hypervisor Hypervisor
	Product    string // DMI product name, possibly empty
	Reason     string
}

func (e *NotApplianceError) Error() string {
	return "not an appliance: " + e.Reason + "; set a profile override (hafw.profile=MODEL) to run as one"
}

// Is makes errors.Is(err, ErrNotAppliance) true.
func (e *NotApplianceError) Is(target error) bool { return target == ErrNotAppliance }

// VersionID is the hardware version in every UDI this firmware forms (the
// seed's UDIs all say V01).
const VersionID = "V01"

// Detect reads the machine's facts and classifies them; see Classify.
func Detect(s System, hostname, override string) (Platform, error) {
	f, err := ReadFacts(s)
	if err != nil {
		return Platform{}, fmt.Errorf("detecting platform: %w", err)
	}
	return Classify(f, hostname, override)
}

// Classify decides profile and UDI from the facts. A non-empty override
// names the profile to run as (labs run a "3355" or "VA-Standard" in QEMU);
// otherwise a physical appliance is recognised by its DMI product name and a
// VMware virtual appliance by its vCPU count and memory (the largest VA
// profile it satisfies). Anything else is a *NotApplianceError.
//
// The UDI is PID:V01:SN. SN is the DMI serial on a physical appliance and
// <hostname>_<uuid> on a virtual one, as in the seed's
// AIR-MSE-VA-K9:V01:mse2_666f2046-…; a physical profile without a usable
// DMI serial (an overridden lab machine, or a VMware VM whose serial has
// spaces) falls back to the virtual form.
func Classify(f Facts, hostname, override string) (Platform, error) {
	pl := Platform{Identity: f.DMI, Hypervisor: DetectHypervisor(f), CPUs: f.CPUs, MemoryMB: f.MemoryMB}
	switch {
	case strings.TrimSpace(override) != "":
		p, err := hwprofiles.Lookup(override)
		if err != nil {
			return Platform{}, fmt.Errorf("profile override: %w", err)
		}
		pl.Profile, pl.Overridden = p, true
	case pl.Hypervisor == VMware:
		p, err := vaProfile(f)
		if err != nil {
			return Platform{}, err
		}
		pl.Profile = p
	default:
		p, ok := physicalProfile(f.DMI.Product)
		if !ok {
			return Platform{}, notAppliance(pl.Hypervisor, f)
		}
		pl.Profile = p
	}
	sn, err := serial(pl.Profile, f.DMI, hostname)
	if err != nil {
		return Platform{}, err
	}
	pl.UDI = licensing.UDI{PID: pl.Profile.ProductID, VID: VersionID, SN: sn}
	if err := pl.UDI.Validate(); err != nil {
		return Platform{}, fmt.Errorf("forming UDI: %w", err)
	}
	return pl, nil
}

func physicalProfile(product string) (hwprofiles.Profile, bool) {
	for _, p := range hwprofiles.All() {
		for _, name := range p.DMIProducts {
			if product != "" && strings.EqualFold(strings.TrimSpace(product), name) {
				return p, true
			}
		}
	}
	return hwprofiles.Profile{}, false
}

// memorySlackPercent allows for the memory the kernel and firmware keep out
// of MemTotal: a VM configured with 8192 MB shows roughly 7.8 GB.
const memorySlackPercent = 10

// vaProfile picks the largest virtual profile whose vCPU and memory the
// machine meets.
func vaProfile(f Facts) (hwprofiles.Profile, error) {
	var best hwprofiles.Profile
	found := false
	var smallest hwprofiles.Profile
	for _, p := range hwprofiles.All() {
		if p.Class != hwprofiles.Virtual {
			continue
		}
		if smallest.Model == "" || p.VCPU < smallest.VCPU {
			smallest = p
		}
		if f.CPUs >= p.VCPU && f.MemoryMB >= p.MemoryMB*(100-memorySlackPercent)/100 && (!found || p.VCPU > best.VCPU) {
			best, found = p, true
		}
	}
	if !found {
		return hwprofiles.Profile{}, &NotApplianceError{Hypervisor: VMware, Product: f.DMI.Product,
			Reason: fmt.Sprintf("VMware virtual machine with %d vCPU and %d MB is below the smallest virtual appliance (%s: %d vCPU, %d MB)",
				f.CPUs, f.MemoryMB, smallest.Model, smallest.VCPU, smallest.MemoryMB)}
	}
	return best, nil
}

// Describe names h for an operator: "a KVM/QEMU virtual machine".
func (h Hypervisor) Describe() string {
	switch h {
	case BareMetal:
		return "a physical machine"
	case VMware:
		return "a VMware virtual machine"
	case KVM:
		return "a KVM/QEMU virtual machine"
	case Xen:
		return "a Xen virtual machine"
	case HyperV:
		return "a Hyper-V virtual machine"
	case VirtualBox:
		return "a VirtualBox virtual machine"
	}
	return "a virtual machine under an unidentified hypervisor"
}

func notAppliance(h Hypervisor, f Facts) error {
	what := h.Describe()
	product := "no DMI product name"
	if f.DMI.Product != "" {
		product = fmt.Sprintf("DMI product %q", f.DMI.Product)
	}
	return &NotApplianceError{Hypervisor: h, Product: f.DMI.Product,
		Reason: fmt.Sprintf("%s (%s) is neither a known appliance model nor a VMware virtual appliance", what, product)}
}

func serial(p hwprofiles.Profile, id Identity, hostname string) (string, error) {
	if sn := strings.TrimSpace(id.Serial); p.Class == hwprofiles.Physical && usableSerial(sn) &&
		(licensing.UDI{PID: p.ProductID, VID: VersionID, SN: sn}).Validate() == nil {
		return sn, nil
	}
	hostname = strings.TrimSpace(hostname)
	if hostname == "" {
		return "", errors.New("forming UDI: a virtual appliance serial is <hostname>_<uuid>, and the hostname is empty")
	}
	if id.UUID == "" {
		// No DMI UUID (some lab VMs): the hostname alone, as the seed's
		// short form AIR-MSE-VA-K9:V01:mse1.
		return hostname, nil
	}
	return hostname + "_" + id.UUID, nil
}
