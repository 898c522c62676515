package image

import (
	"strings"
	"testing"
)

func TestRewriteMain(t *testing.T) {
	src := "// Command x does x.\n//go:build linux\n\npackage main\n\nimport \"os\"\n\n// main is x.\nfunc main() { os.Exit(run()) }\n\nfunc run() int { return 0 }\n\ntype T struct{}\n\nfunc (T) main() {}\n"
	got, err := rewriteMain("x.go", []byte(src), "x")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(strings.Replace(src, "package main", "package x", 1), "func main()", "func Main()", 1)
	if string(got) != want {
		t.Errorf("rewriteMain:\n%s\nwant:\n%s", got, want)
	}
	for _, bad := range []string{
		"package x\n\nfunc main() {}\n",
		"package main\n\nfunc main() {}\n\nfunc Main() {}\n",
		"package main\n\nvar Main = 1\n\nfunc main() {}\n",
		"package main\n\nfunc main() {\n",
	} {
		if out, err := rewriteMain("bad.go", []byte(bad), "x"); err == nil {
			t.Errorf("rewriteMain(%q) = %q, want an error", bad, out)
		}
	}
}
