package board

import (
	"testing"
)

func TestReadNICsFixture(t *testing.T) {
	nics, err := ReadNICs(fixture("nics"))
	if err != nil {
		t.Fatal(err)
	}
	want := []NIC{
		{Name: "eth0", MAC: "00:50:56:89:01:d6", Driver: "vmxnet3", Physical: true, Carrier: true, OperState: "up"},
		{Name: "eth1", MAC: "00:50:56:89:01:d7", Driver: "e1000", Physical: true, Carrier: false, OperState: "down"},
		{Name: "lo", MAC: "00:00:00:00:00:00", Carrier: true, OperState: "unknown"},
	}
	if len(nics) != len(want) {
		t.Fatalf("got %+v", nics)
	}
	for i := range want {
		if nics[i] != want[i] {
			t.Errorf("NIC %d: got %+v, want %+v", i, nics[i], want[i])
		}
	}
}

func TestReadNICsThisMachine(t *testing.T) {
	nics, err := ReadNICs(System{Root: "/"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nics {
		if n.Name == "lo" {
			if n.Physical || n.Driver != "" {
				t.Errorf("lo: %+v", n)
			}
			return
		}
	}
	t.Fatalf("no lo among %+v", nics)
}

func TestReadNICsMissing(t *testing.T) {
	if _, err := ReadNICs(System{Root: t.TempDir()}); err == nil {
		t.Fatal("no error for a root without /sys/class/net")
	}
}
