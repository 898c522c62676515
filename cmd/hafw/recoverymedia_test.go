package main

import (
	"strings"
	"testing"
)

func TestRecoveryMediaNeedsRawProfiles(t *testing.T) {
	code, _, errOut := hafw(t, "build", "--profile", "VA-Standard", "--recovery-media", "--out", t.TempDir())
	if code != 2 || !strings.Contains(errOut, "--recovery-media needs raw-disk profiles; VA-Standard builds") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
