package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/hafw/hafw/hwprofiles"
)

// OVFProperty is one deployment property of the OVF ProductSection. The
// keys are those of the kernel command line without the "hafw." prefix
// (the init agent reads both the same way).
type OVFProperty struct {
	Key, Type, Label, Description string
	Qualifiers                    string // OVF type qualifiers, e.g. ValueMap{...}
	Password                      bool
}

// OVFProperties are offered to the administrator at deployment; all are
// optional: an empty value leaves the setting to the setup wizard.
var OVFProperties = []OVFProperty{
	{Key: "hostname", Type: "string", Label: "Hostname", Description: "Host name of the appliance."},
	{Key: "role", Type: "string", Label: "HA role", Description: "primary, secondary or none.", Qualifiers: `ValueMap{"","primary","secondary","none"}`},
	{Key: "eth0", Type: "string", Label: "eth0 address", Description: "Health-monitor/management address as ADDR/PREFIX (e.g. 10.0.0.5/24), or dhcp."},
	{Key: "gw", Type: "string", Label: "Default gateway", Description: "IPv4 default gateway on eth0."},
	{Key: "eth1", Type: "string", Label: "eth1 address", Description: "Direct-connect address as ADDR/PREFIX, or dhcp; empty for none."},
	{Key: "vip", Type: "string", Label: "Virtual IP", Description: "HA virtual IP as ADDR/PREFIX (primary only)."},
	{Key: "dc", Type: "string", Label: "Direct connect", Description: "eth1 to use the direct-connect link, none otherwise.", Qualifiers: `ValueMap{"","eth1","none"}`},
	{Key: "dns", Type: "string", Label: "DNS servers", Description: "Comma-separated DNS server addresses."},
	{Key: "ntp", Type: "string", Label: "NTP servers", Description: "Comma-separated NTP server names or addresses."},
	{Key: "tz", Type: "string", Label: "Time zone", Description: "IANA time zone, e.g. Asia/Tokyo."},
	{Key: "password", Type: "string", Label: "Admin password", Description: "Initial password of the admin account (at least 10 characters of two kinds among lower case, upper case, digits and others; not a variation of admin or password), or its hash from hafw hash-password.", Password: true},
}

// ovfInput is what the descriptor template needs.
type ovfInput struct {
	Name, Model, Version, VMDK string
	VMDKSize                   int64
	Profile                    hwprofiles.Profile
	Properties                 []OVFProperty
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), `"`, "&quot;")
}

var ovfTemplate = template.Must(template.New("ovf").Funcs(template.FuncMap{"x": xmlEscape}).Parse(
	`<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
    <File ovf:href="{{x .VMDK}}" ovf:id="file1" ovf:size="{{.VMDKSize}}"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="{{.Profile.DiskGB}}" ovf:capacityAllocationUnits="byte * 2^30" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <NetworkSection>
    <Info>The logical networks</Info>
    <Network ovf:name="hm-mgmt">
      <Description>eth0: health monitor and management network</Description>
    </Network>
    <Network ovf:name="direct-connect">
      <Description>eth1: direct-connect link to the HA peer</Description>
    </Network>
  </NetworkSection>
  <VirtualSystem ovf:id="{{x .Name}}">
    <Info>hafw {{x .Model}} virtual appliance</Info>
    <Name>{{x .Name}}</Name>
    <ProductSection ovf:required="false">
      <Info>First-boot deployment settings read by the appliance's init agent</Info>
      <Product>hafw {{x .Model}}</Product>
      <Vendor>hafw</Vendor>
      <Version>{{x .Version}}</Version>
      <FullVersion>{{x .Version}}</FullVersion>
{{- range .Properties}}
      <Property ovf:key="{{x .Key}}" ovf:type="{{.Type}}"{{if .Qualifiers}} ovf:qualifiers="{{x .Qualifiers}}"{{end}} ovf:userConfigurable="true" ovf:value=""{{if .Password}} ovf:password="true"{{end}}>
        <Label>{{x .Label}}</Label>
        <Description>{{x .Description}}</Description>
      </Property>
{{- end}}
    </ProductSection>
    <OperatingSystemSection ovf:id="101" vmw:osType="other5xLinux64Guest">
      <Info>The guest operating system</Info>
      <Description>Linux 6.x (64-bit)</Description>
    </OperatingSystemSection>
    <VirtualHardwareSection ovf:transport="iso">
      <Info>Virtual hardware of the {{x .Model}} profile</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>{{x .Name}}</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-14</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:Description>Number of virtual CPUs</rasd:Description>
        <rasd:ElementName>{{.Profile.VCPU}} virtual CPU(s)</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>{{.Profile.VCPU}}</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:Description>Memory size</rasd:Description>
        <rasd:ElementName>{{.Profile.MemoryMB}} MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>{{.Profile.MemoryMB}}</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:Description>SCSI controller</rasd:Description>
        <rasd:ElementName>SCSI controller 0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>lsilogic</rasd:ResourceSubType>
        <rasd:ResourceType>6</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>Hard disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>7</rasd:AddressOnParent>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>hm-mgmt</rasd:Connection>
        <rasd:Description>eth0: health monitor and management</rasd:Description>
        <rasd:ElementName>eth0</rasd:ElementName>
        <rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceSubType>E1000</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>8</rasd:AddressOnParent>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>direct-connect</rasd:Connection>
        <rasd:Description>eth1: direct connect to the HA peer</rasd:Description>
        <rasd:ElementName>eth1</rasd:ElementName>
        <rasd:InstanceID>6</rasd:InstanceID>
        <rasd:ResourceSubType>E1000</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`))

// renderOVF produces the OVF descriptor.
func renderOVF(in ovfInput) ([]byte, error) {
	in.Properties = OVFProperties
	var b bytes.Buffer
	if err := ovfTemplate.Execute(&b, in); err != nil {
		return nil, fmt.Errorf("rendering OVF: %w", err)
	}
	return b.Bytes(), nil
}

// writeOVA writes the OVA tar: the OVF descriptor first (ESXi streams the
// archive and needs it before the disk), then the disk, then the manifest
// with SHA256 lines for both. Headers carry the build epoch, root owner and
// fixed modes, so the archive reproduces.
func writeOVA(out string, ovfName string, ovf []byte, vmdkPath string, epoch time.Time) error {
	vmdkSum, err := fileSHA256(vmdkPath)
	if err != nil {
		return err
	}
	ovfSum := sha256.Sum256(ovf)
	vmdkName := filepath.Base(vmdkPath)
	mfName := strings.TrimSuffix(ovfName, ".ovf") + ".mf"
	mf := fmt.Appendf(nil, "SHA256(%s)= %s\nSHA256(%s)= %s\n", ovfName, hex.EncodeToString(ovfSum[:]), vmdkName, vmdkSum)

	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("creating OVA: %w", err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	hdr := func(name string, size int64) *tar.Header {
		return &tar.Header{Name: name, Size: size, Mode: 0o644, ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
	}
	if err := tw.WriteHeader(hdr(ovfName, int64(len(ovf)))); err != nil {
		return fmt.Errorf("writing OVA: %w", err)
	}
	if _, err := tw.Write(ovf); err != nil {
		return fmt.Errorf("writing OVA: %w", err)
	}
	vf, err := os.Open(vmdkPath)
	if err != nil {
		return fmt.Errorf("writing OVA: %w", err)
	}
	defer vf.Close()
	st, err := vf.Stat()
	if err != nil {
		return fmt.Errorf("writing OVA: %w", err)
	}
	if err := tw.WriteHeader(hdr(vmdkName, st.Size())); err != nil {
		return fmt.Errorf("writing OVA: %w", err)
	}
	if _, err := io.Copy(tw, vf); err != nil {
		return fmt.Errorf("writing OVA: %w", err)
	}
	if err := tw.WriteHeader(hdr(mfName, int64(len(mf)))); err != nil {
		return fmt.Errorf("writing OVA: %w", err)
	}
	if _, err := tw.Write(mf); err != nil {
		return fmt.Errorf("writing OVA: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("writing OVA: %w", err)
	}
	return f.Close()
}

// fileSHA256 hashes a file.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
