// Package store keeps hmd's per-peer state on the data partition: the
// pairing configuration agreed with each peer (addresses, modes, timing,
// the shared secret and the peer's pinned certificate) and the state
// machine's node for that relationship. One file per peer, written
// atomically after every change, so that a power cut leaves each peer's
// file either before or after a step, and gethainfo can read the last saved
// state when hmd is down.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/internal/atomicfile"
)

// PeerConfig is what pairing agreed with one peer.
type PeerConfig struct {
	Name string `json:"name"`
	// HIP is the peer's health-monitor IP; it names the peer everywhere.
	HIP netip.Addr `json:"hip"`
	// DirectIP is the peer's address on the direct-connect cable, if any.
	DirectIP netip.Addr `json:"direct_ip,omitzero"`
	// VIP is the primary's virtual IP (the same on both sides).
	VIP               netip.Prefix  `json:"vip"`
	Version           string        `json:"version"`
	UDI               string        `json:"udi"`
	Profile           string        `json:"profile"`
	FailoverType      ha.Mode       `json:"failover_type"`
	FailbackType      ha.Mode       `json:"failback_type"`
	FailoverWait      time.Duration `json:"failover_wait"`
	HeartbeatInterval time.Duration `json:"heartbeat_interval"`
	// InstanceSlot numbers the pair's service instance (seed: mseos3…).
	InstanceSlot int `json:"instance_slot"`
	// Secret is the random pairing secret; heartbeat keys derive from it.
	Secret []byte `json:"secret"`
	// Fingerprint pins the peer's API certificate (SHA-256, hex).
	Fingerprint string    `json:"fingerprint"`
	PairedAt    time.Time `json:"paired_at"`
	// Witness, on a secondary, must agree that the primary is gone before
	// an automatic takeover (zero: no witness).
	Witness Witness `json:"witness,omitzero"`
}

// Witness is where a secondary asks before an automatic takeover.
type Witness struct {
	Addr     netip.Addr `json:"addr"`
	Password string     `json:"password"`
	// Pin is the witness's certificate fingerprint; empty trusts any.
	Pin string `json:"pin,omitempty"`
}

// Peer is one stored relationship.
type Peer struct {
	Config PeerConfig `json:"config"`
	Node   ha.Node    `json:"node"`
}

// Store is a directory of peer files.
type Store struct {
	Dir string
}

func (s Store) path(hip netip.Addr) string {
	return filepath.Join(s.Dir, "peers", hip.String()+".json")
}

// Save writes one peer's file atomically.
func (s Store) Save(p Peer) error {
	if !p.Config.HIP.IsValid() {
		return errors.New("save peer: no health-monitor IP")
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encode peer %s: %w", p.Config.HIP, err)
	}
	if err := atomicfile.Write(s.path(p.Config.HIP), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save peer %s: %w", p.Config.HIP, err)
	}
	return nil
}

// Delete removes a peer's file (unpairing); a missing file is not an error.
func (s Store) Delete(hip netip.Addr) error {
	if err := os.Remove(s.path(hip)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete peer %s: %w", hip, err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(s.path(hip))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Load reads every peer, ordered by instance slot (the order gethainfo
// numbers them in). A file that does not decode is an error naming it:
// hmd must not silently forget a pairing (the daemon quarantines such files
// at start, see LoadChecked).
func (s Store) Load() ([]Peer, error) {
	peers, damaged, err := s.LoadChecked()
	if err != nil {
		return nil, err
	}
	if len(damaged) > 0 {
		return nil, damaged[0].Err
	}
	return peers, nil
}

// DamagedPeer is a peer file that does not decode or names another peer.
type DamagedPeer struct {
	Path string
	// HIP is the peer the file name says it holds (invalid if the name
	// does not parse).
	HIP netip.Addr
	Err error
}

// LoadChecked is Load that reports damaged peer files beside the good
// peers instead of failing on the first: one damaged pairing must not cost
// a node its other pairs. Only unreadable directories are errors.
func (s Store) LoadChecked() ([]Peer, []DamagedPeer, error) {
	dir := filepath.Join(s.Dir, "peers")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list peers: %w", err)
	}
	var peers []Peer
	var damaged []DamagedPeer
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
			continue
		}
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("read peer file: %w", err)
		}
		var p Peer
		if err := json.Unmarshal(data, &p); err != nil {
			hip, _ := netip.ParseAddr(strings.TrimSuffix(name, ".json"))
			damaged = append(damaged, DamagedPeer{Path: path, HIP: hip, Err: fmt.Errorf("decode peer file %s: %w", path, err)})
			continue
		}
		if p.Config.HIP.String()+".json" != name {
			hip, _ := netip.ParseAddr(strings.TrimSuffix(name, ".json"))
			damaged = append(damaged, DamagedPeer{Path: path, HIP: hip, Err: fmt.Errorf("peer file %s holds peer %s", path, p.Config.HIP)})
			continue
		}
		peers = append(peers, p)
	}
	sort.Slice(peers, func(i, j int) bool {
		if peers[i].Config.InstanceSlot != peers[j].Config.InstanceSlot {
			return peers[i].Config.InstanceSlot < peers[j].Config.InstanceSlot
		}
		return peers[i].Config.HIP.Less(peers[j].Config.HIP)
	})
	return peers, damaged, nil
}

// Self is this appliance's identity as hmd last ran it, kept so that
// gethainfo can print the base configuration while hmd is down.
type Self struct {
	Hostname string `json:"hostname"`
	Version  string `json:"version"`
	UDI      string `json:"udi"`
	Profile  string `json:"profile"`
}

func (s Store) selfPath() string { return filepath.Join(s.Dir, "self.json") }

// SaveSelf writes the identity atomically.
func (s Store) SaveSelf(self Self) error {
	data, err := json.MarshalIndent(self, "", "  ")
	if err != nil {
		return fmt.Errorf("encode identity: %w", err)
	}
	if err := atomicfile.Write(s.selfPath(), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	return nil
}

// LoadSelf reads the identity; a missing file gives the zero Self.
func (s Store) LoadSelf() (Self, error) {
	var self Self
	data, err := os.ReadFile(s.selfPath())
	if errors.Is(err, os.ErrNotExist) {
		return self, nil
	}
	if err != nil {
		return self, fmt.Errorf("read identity: %w", err)
	}
	if err := json.Unmarshal(data, &self); err != nil {
		return self, fmt.Errorf("decode %s: %w", s.selfPath(), err)
	}
	return self, nil
}
