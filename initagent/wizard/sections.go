package wizard

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/hafw/hafw/config"
)

// askPassword sets the administrator password (user admin): the console,
// the management API and pairing ask for it, and a primary's pairing form
// calls it the secondary password ("default or from setup script" in the
// seed). hafw has no default password, so an appliance without one gets
// one here, first: without it the box could be neither logged into nor
// paired. A configured one keeps its password unless the operator changes
// it. The password is asked twice, hidden on a terminal, must pass
// config.CheckPasswordStrength and is stored only as its hash.
func (w *Wizard) askPassword(a *config.Appliance) error {
	if a.PasswordHash != "" {
		w.printf("The administrator password is set.\n")
		change, err := w.askYesNo("Change the administrator password? (yes/no)", "no")
		if err != nil || !change {
			return err
		}
	} else {
		w.printf("No administrator password is set.\n")
	}
	w.printf("The administrator password (user admin) protects the console, the management\n"+
		"API and pairing: a primary pairing with this appliance asks for it as the\n"+
		"secondary password. It needs at least %d characters of at least two kinds\n"+
		"(lower case, upper case, digits, others) and must not be a variation of admin\n"+
		"or password. It is not shown as you type.\n", config.MinPasswordLength)
	for {
		pw, err := w.readSecret("Enter the administrator password: ")
		if err != nil {
			return err
		}
		if err := config.CheckPasswordStrength(pw); err != nil {
			w.printf("Invalid answer: %v. Please try again.\n", err)
			continue
		}
		again, err := w.readSecret("Enter the administrator password again: ")
		if err != nil {
			return err
		}
		if again != pw {
			w.printf("Invalid answer: the two passwords differ. Please try again.\n")
			continue
		}
		h, err := config.HashPassword(pw)
		if err != nil {
			return fmt.Errorf("hash the administrator password: %w", err)
		}
		a.PasswordHash = h
		return nil
	}
}

func (w *Wizard) askHostname(a *config.Appliance) error {
	w.printf("Current hostname=[%s]\n", a.Hostname)
	c, err := w.ysu("Configure hostname?")
	if err != nil || c == skip {
		return err
	}
	if c == useDefault {
		a.Hostname = config.Default().Hostname
		return nil
	}
	w.printf("The host name should be a unique name that can identify\nthe device on the network. The hostname should start with\na letter, end with a letter or number, and contain only\nletters, numbers, and dashes.\n")
	a.Hostname, err = w.ask("Enter a host name", a.Hostname, func(s string) error {
		if !config.ValidHostname(s) {
			return fmt.Errorf("%q must start with a letter, end with a letter or number, and contain only letters, numbers and dashes", s)
		}
		return nil
	})
	return err
}

func (w *Wizard) askDomain(a *config.Appliance) error {
	w.printf("Current domain=[%s]\n", a.Domain)
	c, err := w.ysu("Configure domain name?")
	if err != nil || c == skip {
		return err
	}
	if c == useDefault {
		a.Domain = ""
		return nil
	}
	a.Domain, err = w.ask("Enter a domain name", a.Domain, func(s string) error {
		probe := config.Default()
		probe.Domain = s
		return fieldErr(probe.Validate(), "domain")
	})
	return err
}

// fieldErr returns the reason config.Validate gave for field, if any.
func fieldErr(err error, field string) error {
	var v config.ValidationError
	if ok := asValidation(err, &v); !ok {
		return nil
	}
	for _, e := range v {
		if e.Field == field || strings.HasPrefix(e.Field, field+".") {
			return fmt.Errorf("%s", e.Reason)
		}
	}
	return nil
}

func asValidation(err error, v *config.ValidationError) bool {
	ve, ok := err.(config.ValidationError)
	if ok {
		*v = ve
	}
	return ok
}

func roleLabel(r config.Role) string {
	switch r {
	case config.RolePrimary:
		return "Primary"
	case config.RoleSecondary:
		return "Secondary"
	}
	return "None"
}

// roleSwitchRefusal is the seed's message when the role changes while
// the services run.
const roleSwitchRefusal = "*** User has switched roles for this MSE. MSE must be stopped before switching roles.\n" +
	"*** Please stop MSE (msed stop) and then re-run setup.\n"

func (w *Wizard) askHA(a *config.Appliance) error {
	w.printf("Current role=[%s]\n", roleLabel(a.Role))
	c, err := w.ysu("Configure High Availability?")
	if err != nil || c == skip {
		return err
	}
	if c == useDefault {
		return w.setRole(a, config.RoleNone)
	}
	w.printf("High availability role for this MSE (Primary/Secondary)\n")
	def := "1"
	if a.Role == config.RoleSecondary {
		def = "2"
	}
	// The seed's prompt offers 1 and 2 only; "none" is accepted as well
	// (and named in the reason for a wrong answer) so that an operator can
	// take a configured box out of HA without resetting other sections.
	ans, err := w.ask("Select role [1 for Primary, 2 for Secondary]", def, func(s string) error {
		if s != "1" && s != "2" && s != "none" {
			return fmt.Errorf("enter 1 for Primary or 2 for Secondary (or none for no HA role)")
		}
		return nil
	})
	if err != nil {
		return err
	}
	role := map[string]config.Role{"1": config.RolePrimary, "2": config.RoleSecondary, "none": config.RoleNone}[ans]
	if err := w.setRole(a, role); err != nil {
		return err
	}
	if a.Role == config.RoleNone {
		return nil // no health monitor, direct connect or VIP without a role
	}
	w.printf("Health monitor interface holds physical IP address of this MSE server.\n" +
		"This IP address is used by Secondary, Primary MSE servers and WCS to communicate among themselves\n")
	a.HealthMonitorInterface, err = w.ask("Select Health Monitor Interface [eth0/eth1]", a.HealthMonitorInterface, oneOf("eth0", "eth1"))
	if err != nil {
		return err
	}
	w.printf("Direct connect configuration facilitates use of a direct cable connection between\n" +
		"the primary and secondary MSE servers. This can help reduce latencies in heartbeat\n" +
		"response times, data replication and failure detection times.\n" +
		"Please choose a network interface that you wish to use for direct connect. You should\n" +
		"appropriately configure the respective interfaces.\n" +
		"\"none\" implies you do not wish to use direct connect configuration.\n")
	dc := a.DirectConnectInterface
	if dc == "" {
		dc = "none"
	}
	dc, err = w.ask("Select direct connect interface [eth0/eth1/none]", dc, func(s string) error {
		if err := oneOf("eth0", "eth1", "none")(s); err != nil {
			return err
		}
		if s == a.HealthMonitorInterface {
			return fmt.Errorf("the direct connect interface must differ from the health monitor interface %s", s)
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.DirectConnectInterface = strings.TrimPrefix(dc, "none")
	if a.Role == config.RolePrimary {
		if err := w.askVIP(a); err != nil {
			return err
		}
		w.printf("Choose to start the server in recovery mode. You should choose yes only if this primary\n" +
			"was paired earlier and you have now lost the configuration from this box.\n" +
			"And, now you want to restore the configuration from Secondary via NCS\n")
		def := "no"
		if a.RecoveryMode {
			def = "yes"
		}
		a.RecoveryMode, err = w.askYesNo("Do you wish to start this MSE in HA recovery mode ?: (yes/no)", def)
		return err
	}
	a.VIP, a.RecoveryMode = netip.Prefix{}, false
	return nil
}

// setRole changes the role unless that is a switch while services run.
func (w *Wizard) setRole(a *config.Appliance, role config.Role) error {
	if role != w.Current.Role && w.Current.Role != config.RoleNone && w.ServicesRunning != nil && w.ServicesRunning() {
		w.printf("%s", roleSwitchRefusal)
		return nil // keep the current role
	}
	a.Role = role
	if role != config.RolePrimary {
		a.VIP, a.RecoveryMode = netip.Prefix{}, false
	}
	return nil
}

func oneOf(options ...string) func(string) error {
	return func(s string) error {
		if !slices.Contains(options, s) {
			return fmt.Errorf("unknown interface %q: choose one of %s", s, strings.Join(options, ", "))
		}
		return nil
	}
}

// parseIPv4 accepts a dotted IPv4 address.
func parseIPv4(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil || !ip.Is4() {
		return netip.Addr{}, fmt.Errorf("%q is not a valid IPv4 address", s)
	}
	return ip, nil
}

// parseMask accepts 255.255.255.0, /24 or 24.
func parseMask(s string) (int, error) {
	if n, err := strconv.Atoi(strings.TrimPrefix(s, "/")); err == nil && n >= 0 && n <= 32 {
		return n, nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || !ip.Is4() {
		return 0, fmt.Errorf("%q is not a network mask", s)
	}
	b := ip.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	bits := 0
	for v&(1<<31) != 0 {
		bits++
		v <<= 1
	}
	if v != 0 {
		return 0, fmt.Errorf("%q is not a contiguous network mask", s)
	}
	return bits, nil
}

// maskString is the dotted form of a prefix length.
func maskString(bits int) string {
	v := ^uint32(0) << (32 - bits)
	if bits == 0 {
		v = 0
	}
	return fmt.Sprintf("%d.%d.%d.%d", v>>24, v>>16&0xff, v>>8&0xff, v&0xff)
}

func (w *Wizard) askAddress(prompt, def string, check func(netip.Addr) error) (netip.Addr, error) {
	var ip netip.Addr
	_, err := w.ask(prompt, def, func(s string) error {
		var err error
		if ip, err = parseIPv4(s); err != nil {
			return err
		}
		if check != nil {
			return check(ip)
		}
		return nil
	})
	return ip, err
}

func (w *Wizard) askMask(ip netip.Addr, def int, check func(netip.Prefix) error) (netip.Prefix, error) {
	w.printf("Enter the network mask for IP address %s.\n", ip)
	var p netip.Prefix
	_, err := w.ask("Enter network mask", maskString(def), func(s string) error {
		bits, err := parseMask(s)
		if err != nil {
			return err
		}
		if bits < 8 || bits > 30 {
			return fmt.Errorf("mask /%d is not usable for a host (want /8 to /30)", bits)
		}
		p = netip.PrefixFrom(ip, bits)
		if check != nil {
			return check(p)
		}
		return nil
	})
	return p, err
}

// hmPort is the health-monitor port's current configuration.
func hmPort(a *config.Appliance) *config.Interface {
	p, err := a.Port(a.HealthMonitorInterface)
	if err != nil {
		return &config.Interface{}
	}
	return p
}

// checkVIP applies the seed's rules between the VIP and the health
// monitor address: different, and on the same subnet.
func checkVIP(vip netip.Prefix, hm netip.Prefix) error {
	if !hm.IsValid() {
		return nil
	}
	if vip.Addr() == hm.Addr() {
		return fmt.Errorf("the virtual IP %s must differ from the health monitor IP %s", vip.Addr(), hm.Addr())
	}
	if !hm.Masked().Contains(vip.Addr()) {
		return fmt.Errorf("the virtual IP %s is not on the health monitor subnet %s", vip.Addr(), hm.Masked())
	}
	if vip.Bits() != hm.Bits() {
		return fmt.Errorf("mask /%d differs from the health monitor interface's /%d", vip.Bits(), hm.Bits())
	}
	return nil
}

func (w *Wizard) askVIP(a *config.Appliance) error {
	hm := hmPort(a)
	var hmAddr netip.Prefix
	if hm.Static() {
		hmAddr = hm.Address
	}
	w.printf("Enter a Virtual IP address for first this primary MSE server\n")
	def, bits := "", 24
	if a.VIP.IsValid() {
		def, bits = a.VIP.Addr().String(), a.VIP.Bits()
	} else if hmAddr.IsValid() {
		bits = hmAddr.Bits()
	}
	ip, err := w.askAddress("Enter Virtual IP address", def, func(ip netip.Addr) error {
		return checkVIP(netip.PrefixFrom(ip, hmAddr.Bits()), hmAddr) // the mask is asked next
	})
	if err != nil {
		return err
	}
	a.VIP, err = w.askMask(ip, bits, func(p netip.Prefix) error { return checkVIP(p, hmAddr) })
	return err
}

func (w *Wizard) askEth0(a *config.Appliance) error {
	p := &a.Eth0
	w.printf("Current IP address=[%s]\nCurrent eth0 netmask=[%s]\nCurrent gateway address=[%s]\n",
		addrOf(*p), maskOf(*p), gwOf(*p))
	c, err := w.ysu("Configure eth0 interface parameters?")
	if err != nil || c == skip {
		return err
	}
	if c == useDefault {
		*p = config.Default().Eth0
		return nil
	}
	return w.askPort(a, "eth0", "first", true)
}

func (w *Wizard) askEth1(a *config.Appliance) error {
	p := &a.Eth1
	if !p.Enabled {
		w.printf("The second ethernet interface is currently disabled for this machine.\n")
	} else {
		w.printf("Current eth1 IP address=[%s]\nCurrent eth1 netmask=[%s]\n", addrOf(*p), maskOf(*p))
	}
	c, err := w.ysu("Configure eth1 interface parameters?")
	if err != nil || c == skip {
		return err
	}
	if c == useDefault {
		*p = config.Default().Eth1
		return nil
	}
	return w.askPort(a, "eth1", "second", false)
}

// askPort asks one port's address, mask and (eth0) gateway. "dhcp" as
// the address asks for a lease instead, "none" disables the port.
func (w *Wizard) askPort(a *config.Appliance, name, ordinal string, gateway bool) error {
	p, _ := a.Port(name)
	isHM := a.HealthMonitorInterface == name && a.Role != config.RoleNone
	w.printf("Enter an IP address for %s ethernet interface of this machine.\n", ordinal)
	if !isHM {
		w.printf("(or \"dhcp\" to lease one, \"none\" to disable the interface)\n")
	}
	var ip netip.Addr
	ans, err := w.ask(fmt.Sprintf("Enter %s IP address", name), addrOf(*p), func(s string) error {
		if !isHM && (s == "dhcp" || s == "none") {
			return nil
		}
		var err error
		if ip, err = parseIPv4(s); err != nil {
			return err
		}
		if isHM && a.VIP.IsValid() && ip == a.VIP.Addr() {
			return fmt.Errorf("the health monitor IP must differ from the virtual IP %s", ip)
		}
		return nil
	})
	if err != nil {
		return err
	}
	switch ans {
	case "dhcp":
		*p = config.Interface{Enabled: true, DHCP: true}
		return nil
	case "none":
		*p = config.Interface{}
		return nil
	}
	vipCheck := func(pfx netip.Prefix) error {
		if isHM && a.Role == config.RolePrimary && a.VIP.IsValid() {
			return checkVIP(a.VIP, pfx)
		}
		return nil
	}
	bits := 24
	if p.Address.IsValid() {
		bits = p.Address.Bits()
	}
	pfx, err := w.askMask(ip, bits, vipCheck)
	if err != nil {
		return err
	}
	*p = config.Interface{Enabled: true, Address: pfx}
	if !gateway {
		return nil
	}
	w.printf("Enter an default gateway address for this machine.\nNote that the default gateway must be reachable from the first ethernet interface.\n")
	gwDef := pfx.Masked().Addr().Next().String()
	gw, err := w.askAddress("Enter default gateway address", gwDef, func(ip netip.Addr) error {
		if !pfx.Masked().Contains(ip) {
			return fmt.Errorf("%s is not reachable from %s", ip, pfx)
		}
		if ip == pfx.Addr() {
			return fmt.Errorf("the gateway cannot be this machine's own address")
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.Gateway = gw
	return nil
}

func addrOf(p config.Interface) string {
	switch {
	case p.DHCP:
		return "dhcp"
	case p.Address.IsValid():
		return p.Address.Addr().String()
	}
	return ""
}

func maskOf(p config.Interface) string {
	if p.Address.IsValid() {
		return maskString(p.Address.Bits())
	}
	return ""
}

func gwOf(p config.Interface) string {
	if p.Gateway.IsValid() {
		return p.Gateway.String()
	}
	return ""
}

func (w *Wizard) askDNS(a *config.Appliance) error {
	w.printf("Domain Name Service (DNS) Setup\n")
	if len(a.DNSServers) == 0 {
		w.printf("No DNS servers currently defined\n")
	} else {
		w.printf("Current DNS servers=[%s]\n", joinAddrs(a.DNSServers))
	}
	c, err := w.ysu("Configure DNS related parameters?")
	if err != nil || c == skip {
		return err
	}
	a.DNSServers = nil
	if c == useDefault {
		return nil
	}
	for i, label := range []string{"primary", "backup"} {
		def := ""
		if i > 0 {
			def = "none"
		}
		ans, err := w.ask(fmt.Sprintf("Enter %s DNS server IP address", label), def, func(s string) error {
			if s == "none" && i > 0 {
				return nil
			}
			_, err := parseIPv4(s)
			return err
		})
		if err != nil {
			return err
		}
		if ans == "none" {
			break
		}
		ip, _ := parseIPv4(ans)
		a.DNSServers = append(a.DNSServers, ip)
	}
	return nil
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

func (w *Wizard) askNTP(a *config.Appliance) error {
	w.printf("Network Time Protocol (NTP) Setup.\n\nIf you choose to enable NTP, the system time will be\nconfigured from NTP servers that you select. Otherwise,\nyou will be prompted to enter the current date and time.\n\n")
	if len(a.NTPServers) == 0 {
		w.printf("NTP is currently disabled.\n")
	} else {
		w.printf("NTP is currently enabled, servers=[%s]\n", strings.Join(a.NTPServers, ","))
	}
	w.clockStep = nil // a date entered on an earlier pass is void
	c, err := w.ysu("Configure NTP related parameters?")
	if err != nil || c == skip {
		return err
	}
	if c == useDefault {
		a.NTPServers = nil
		return w.askDateTime(a)
	}
	w.printf("Enter whether or not you would like to set up the\nNetwork Time Protocol (NTP) for this machine.\n")
	def := "no"
	if len(a.NTPServers) > 0 {
		def = "yes"
	}
	on, err := w.askYesNo("Enable NTP (yes/no)", def)
	if err != nil {
		return err
	}
	a.NTPServers = nil
	if !on {
		return w.askDateTime(a)
	}
	validServer := func(s string) error {
		if s == "" || strings.ContainsAny(s, " \t/") {
			return fmt.Errorf("%q is not a host name or address", s)
		}
		return nil
	}
	first, err := w.ask("Enter NTP server name or address", "", validServer)
	if err != nil {
		return err
	}
	a.NTPServers = append(a.NTPServers, first)
	for {
		more, err := w.ask("Enter another NTP server name or address (or none)", "none", func(s string) error {
			if s == "none" {
				return nil
			}
			return validServer(s)
		})
		if err != nil {
			return err
		}
		if more == "none" {
			return nil
		}
		a.NTPServers = append(a.NTPServers, more)
	}
}

// Summary renders the seed's -----BEGIN----- … -----END----- block.
func Summary(a config.Appliance) string {
	var b strings.Builder
	b.WriteString("-----BEGIN-----\n")
	fmt.Fprintf(&b, "Host name=%s\n", a.Hostname)
	if a.Domain != "" {
		fmt.Fprintf(&b, "Domain=%s\n", a.Domain)
	}
	roleNum := map[config.Role]string{config.RolePrimary: "1", config.RoleSecondary: "2", config.RoleNone: "none"}[a.Role]
	dc := a.DirectConnectInterface
	if dc == "" {
		dc = "none"
	}
	fmt.Fprintf(&b, "Role=%s, Health Monitor Interface=%s, Direct connect interface=%s\n", roleNum, a.HealthMonitorInterface, dc)
	if a.VIP.IsValid() {
		fmt.Fprintf(&b, "Virtual IP Address=%s, Virtual IP Netmask=%s\n", a.VIP.Addr(), maskString(a.VIP.Bits()))
	}
	if a.RecoveryMode {
		b.WriteString("HA recovery mode=yes\n")
	}
	for _, name := range []string{"eth0", "eth1"} {
		p, _ := a.Port(name)
		label := strings.ToUpper(name[:1]) + name[1:]
		switch {
		case !p.Enabled:
			fmt.Fprintf(&b, "%s=disabled\n", label)
		case p.DHCP:
			fmt.Fprintf(&b, "%s=dhcp\n", label)
		default:
			fmt.Fprintf(&b, "%s IP address=%s, %s network mask=%s\n", label, p.Address.Addr(), label, maskString(p.Address.Bits()))
		}
		if name == "eth0" && p.Gateway.IsValid() {
			fmt.Fprintf(&b, "Default gateway=%s\n", p.Gateway)
		}
	}
	if len(a.DNSServers) > 0 {
		fmt.Fprintf(&b, "DNS servers=%s\n", joinAddrs(a.DNSServers))
	}
	fmt.Fprintf(&b, "Time zone=%s\n", a.Timezone)
	if len(a.NTPServers) > 0 {
		fmt.Fprintf(&b, "Enable NTP=yes, NTP servers=%s\n", strings.Join(a.NTPServers, ","))
	} else {
		b.WriteString("Enable NTP=no\n")
	}
	b.WriteString("-----END-----\n")
	return b.String()
}

func (w *Wizard) confirm(a *config.Appliance) error {
	w.printf("\nPlease verify the following setup information.\n\n%s\n", Summary(*a))
	w.printf("You may enter \"yes\" to proceed with configuration, \"no\" to make\nmore changes, or \"^\" to go back to the previous step.\n\n")
	ans, err := w.ask("Is the above information correct (yes, no, or ^)", "", func(s string) error {
		if s != "yes" && s != "no" {
			return fmt.Errorf("answer yes, no or ^")
		}
		return nil
	})
	if err != nil {
		return err
	}
	if ans == "no" {
		return errRestart
	}
	if err := a.Validate(); err != nil {
		w.printf("The configuration cannot be applied:\n")
		var v config.ValidationError
		if asValidation(err, &v) {
			for _, e := range v {
				w.printf("  %s: %s\n", e.Field, e.Reason)
			}
		} else {
			w.printf("  %v\n", err)
		}
		w.printf("Please correct it.\n")
		return errRestart
	}
	return nil
}
