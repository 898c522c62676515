package daemon

import (
	"fmt"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/heartbeat"
)

// A pair runs one firmware version (the seed's restriction), except while
// it is upgraded one node at a time. The heartbeats say what the peer runs
// (heartbeat wire version 3; a peer that writes version 2 runs firmware
// older than any that tells), and a difference is flagged everywhere: the
// peer's status (gethainfo, console, hactl status), and the events log
// when it starts and ends.

// versionSkew describes how the peer's firmware differs from self's, ""
// when it does not or the peer has not been heard yet.
func versionSkew(self string, hb heartbeat.PeerStatus) string {
	switch {
	case hb.Wire == 0:
		return ""
	case hb.Wire < heartbeat.Version:
		return fmt.Sprintf("this appliance runs %s, the peer an older firmware (heartbeat format %d)", self, hb.Wire)
	case hb.Firmware != self:
		return fmt.Sprintf("this appliance runs %s, the peer %s", self, hb.Firmware)
	}
	return ""
}

// WarnVersionMismatch prefixes the warning on a pair whose versions differ.
const WarnVersionMismatch = "Version mismatch: "

// versionWarning is the warning shown while the versions differ.
func versionWarning(skew string) string {
	return WarnVersionMismatch + skew + ". A pair may differ only while it is upgraded one node at a time: finish the upgrade (docs/upgrade.md)."
}

// applyVersion puts what the heartbeats say of the peer's firmware into
// its status: the version it runs now, and the mismatch warning.
func applyVersion(ps *api.PeerStatus, self string, hb heartbeat.PeerStatus) {
	if hb.Firmware != "" {
		ps.Version = hb.Firmware
	}
	if skew := versionSkew(self, hb); skew != "" {
		ps.Warnings = append(ps.Warnings, versionWarning(skew))
	}
}

// checkVersion logs the start and the end of a version difference with
// peer p in the events log; it runs on the loop at every tick.
func (d *Daemon) checkVersion(p *peer) {
	hb := d.heartbeatStatus(p.cfg)
	if hb.Wire == 0 {
		return // not heard (yet): nothing is known, nothing changes
	}
	skew := versionSkew(d.opt.Version, hb)
	if skew == p.skew {
		return
	}
	switch {
	case skew != "":
		d.Event(p.cfg.HIP, "Version mismatch: "+skew, "allowed only while the pair is upgraded")
	default:
		d.Event(p.cfg.HIP, "Firmware versions match again: both run "+d.opt.Version, "")
	}
	p.skew = skew
}
