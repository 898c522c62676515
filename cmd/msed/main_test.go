package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestUsageAndAgentDown(t *testing.T) {
	var out, errb strings.Builder
	if code := run([]string{"restart"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unknown action "restart"`) {
		t.Errorf("unknown action: code %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	sock := filepath.Join(t.TempDir(), "initagent.sock")
	if code := run([]string{"-control", sock, "status"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "the init agent is not running") {
		t.Errorf("agent down: code %d, stderr %q", code, errb.String())
	}
}
