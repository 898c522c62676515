package store

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hafw/hafw/hmd/ha"
)

func TestSaveLoadDelete(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if peers, err := s.Load(); err != nil || len(peers) != 0 {
		t.Fatalf("empty store: %v %v", peers, err)
	}
	a := Peer{Config: PeerConfig{Name: "mse3310", HIP: netip.MustParseAddr("10.10.10.17"), InstanceSlot: 4, Secret: []byte("0123456789abcdef0123456789abcdef"), FailoverWait: 500 * time.Millisecond},
		Node: ha.Node{State: ha.SecondaryActive, LastShutdownState: ha.FailoverActive, Epoch: 3}}
	b := Peer{Config: PeerConfig{Name: "mse3350", HIP: netip.MustParseAddr("10.10.10.22"), InstanceSlot: 3}}
	for _, p := range []Peer{a, b} {
		if err := s.Save(p); err != nil {
			t.Fatal(err)
		}
	}
	peers, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(peers) != 2 || peers[0].Config.Name != "mse3350" || peers[1].Config.Name != "mse3310" {
		t.Fatalf("peers not ordered by slot: %+v", peers)
	}
	got := peers[1]
	if got.Node.LastShutdownState != ha.FailoverActive || got.Node.Epoch != 3 || string(got.Config.Secret) != string(a.Config.Secret) || got.Config.FailoverWait != 500*time.Millisecond {
		t.Fatalf("round trip lost data: %+v", got)
	}
	if err := s.Delete(a.Config.HIP); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(a.Config.HIP); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if peers, _ := s.Load(); len(peers) != 1 {
		t.Fatalf("after delete: %d peers", len(peers))
	}
}

func TestLoadRefusesCorruptOrMisnamedFiles(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if err := s.Save(Peer{Config: PeerConfig{HIP: netip.MustParseAddr("10.10.10.13")}}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.Dir, "peers")
	if err := os.Rename(filepath.Join(dir, "10.10.10.13.json"), filepath.Join(dir, "10.10.10.14.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); err == nil {
		t.Fatal("misnamed peer file accepted")
	}
	if err := os.WriteFile(filepath.Join(dir, "10.10.10.14.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); err == nil {
		t.Fatal("corrupt peer file accepted")
	}
	if err := s.Save(Peer{}); err == nil {
		t.Fatal("peer without address saved")
	}
}

func TestSelf(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if self, err := s.LoadSelf(); err != nil || self != (Self{}) {
		t.Fatalf("missing identity: %+v %v", self, err)
	}
	want := Self{Hostname: "mse1", Version: "8.0.110.0", UDI: "AIR-MSE-VA-K9:V01:mse1", Profile: "VA-Low"}
	if err := s.SaveSelf(want); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LoadSelf(); err != nil || got != want {
		t.Fatalf("identity round trip: %+v %v", got, err)
	}
}
