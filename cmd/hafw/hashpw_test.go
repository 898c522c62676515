package main

import (
	"strings"
	"testing"

	"github.com/hafw/hafw/config"
)

func TestHashPassword(t *testing.T) {
	var out, errb strings.Builder
	if err := hashPassword(nil, strings.NewReader("s3cret-pass\n"), &out, &errb); err != nil {
		t.Fatal(err)
	}
	h := strings.TrimSpace(out.String())
	if !config.IsPasswordHash(h) || !config.CheckPassword(h, "s3cret-pass") {
		t.Errorf("output %q is not a hash of the password", h)
	}
	for _, weak := range []string{"short\n", "onlylowercaseletters\n", "Password-2026\n"} {
		out.Reset()
		err := hashPassword(nil, strings.NewReader(weak), &out, &errb)
		if err == nil || out.Len() != 0 {
			t.Errorf("the weak password %q was hashed: %q, %v", weak, out.String(), err)
		}
	}
	if err := hashPassword([]string{"s3cret-pass"}, strings.NewReader(""), &out, &errb); err == nil {
		t.Error("a password given as an argument was accepted")
	}
}
