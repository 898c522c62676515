package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestHMDDown(t *testing.T) {
	dir := t.TempDir()
	var out, errb strings.Builder
	err := run([]string{"-socket", filepath.Join(dir, "hmd.sock"), "-control", filepath.Join(dir, "initagent.sock")}, &out, &errb)
	if err != nil || out.String() != "Health Monitor is not running\n" {
		t.Errorf("err %v, output %q", err, out.String())
	}
}
