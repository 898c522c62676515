package initagent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hafw/hafw/licensing/devkey"
)

// TestUnactivatedBootShowsUDI: a VA without a license shows its UDI on the
// console, which the administrator needs to obtain the activation license.
func TestUnactivatedBootShowsUDI(t *testing.T) {
	a, _, console := testAgent(t, "hafw.hostname=va1 hafw.eth0=10.210.0.5/24\n")
	if err := os.WriteFile(filepath.Join(a.Paths.Etc, "vendor.pub"), devkey.PublicKeyFile(), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &bootState{}
	if err := a.runSteps(context.Background(), bootSteps(), b); err != nil {
		t.Fatal(err)
	}
	if b.activated || b.udi == "" {
		t.Fatalf("boot state: activated=%v udi=%q", b.activated, b.udi)
	}
	if !strings.Contains(console.String(), "hafw-license: NOT ACTIVATED. UDI of this appliance: "+b.udi+"\n") {
		t.Errorf("console:\n%s", console)
	}
}
