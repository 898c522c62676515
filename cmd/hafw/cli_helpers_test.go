package main

import (
	"bytes"
	"context"
	"testing"
)

// hafw runs the command in-process and returns exit status, stdout, stderr.
func hafw(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}
