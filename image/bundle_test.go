package image

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/hafw/hafw/licensing/devkey"
	"github.com/hafw/hafw/upgrade"
)

// TestUpdateBundle: the build's update bundle verifies with the image's
// vendor key, carries the same kernel the image boots, and is refused by
// an appliance of another profile.
func TestUpdateBundle(t *testing.T) {
	dir, m := rawBuild(t)
	if len(m.Outputs) != 2 || m.Outputs[1].File != "hafw-3355-1.0.0-test"+upgrade.Ext {
		t.Fatalf("outputs %+v, want the image then the update bundle", m.Outputs)
	}
	path := filepath.Join(dir, m.Outputs[1].File)
	bm, err := upgrade.Verify(path, devkey.Public(), upgrade.Policy{Profile: "3355", Running: "0.9"})
	if err != nil {
		t.Fatal(err)
	}
	var kernel string
	for _, in := range m.Inputs {
		if in.Name == "kernel" {
			kernel = in.SHA256
		}
	}
	if bm.Version != "1.0.0-test" || bm.ConfigSchema != upgrade.DataSchema || bm.Members[0].SHA256 != kernel || bm.Members[1].Size != m.InitramfsBytes {
		t.Fatalf("bundle manifest %+v does not describe the image's slot (kernel %s, initramfs %d bytes)", bm, kernel, m.InitramfsBytes)
	}
	if _, err := upgrade.Verify(path, devkey.Public(), upgrade.Policy{Profile: "3310", Running: "0.9"}); !errors.Is(err, upgrade.ErrWrongProfile) {
		t.Fatalf("3310 accepted the 3355 bundle: %v", err)
	}
}
