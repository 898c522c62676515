package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hafw/hafw/image/flash"
	"github.com/hafw/hafw/image/flash/flashtest"
	"github.com/hafw/hafw/internal/cli"
)

func TestFlashCommand(t *testing.T) {
	dir := t.TempDir()
	img := flashtest.Write(t, dir, "hafw-3355-1.0.img", 0xE5, 0xDA, flashtest.Data/512)
	dev := filepath.Join(dir, "disk")

	code, out, errOut := hafw(t, "flash", "--image", img, "--device", dev, "--yes")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "target "+dev+": file") || !strings.Contains(out, "read back and verified") {
		t.Errorf("stdout: %s", out)
	}
	if !strings.Contains(errOut, "writing: 100%") || !strings.Contains(errOut, "verifying: 100%") {
		t.Errorf("progress log: %s", errOut)
	}
	want, _ := os.ReadFile(img)
	if got, _ := os.ReadFile(dev); !bytes.Equal(got, want) {
		t.Fatal("device does not hold the image")
	}

	// A second flash with --keep-data shows the partitions it found.
	code, out, errOut = hafw(t, "flash", "--image", img, "--device", dev, "--yes", "--keep-data")
	if code != 0 || !strings.Contains(out, "partition 2 hafw-data") || !strings.Contains(out, "kept partition 2 (hafw-data") {
		t.Fatalf("keep-data: exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestFlashCommandRefusals(t *testing.T) {
	dir := t.TempDir()
	img := flashtest.Write(t, dir, "hafw-3355-1.0.img", 0xE5, 0xDA, flashtest.Data/512)
	orig := []byte("previous content")
	dev := filepath.Join(dir, "disk")
	if err := os.WriteFile(dev, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(in string, args ...string) (int, string) {
		var out, errOut bytes.Buffer
		err := flashCmd{in: strings.NewReader(in), host: flash.DefaultHost}.run(context.Background(), args, &out, &errOut)
		code := 0
		if ee, ok := err.(*cli.ExitError); ok {
			code = ee.Code
			errOut.WriteString(ee.Msg)
		} else if err != nil {
			code = 1
			errOut.WriteString(err.Error())
		}
		return code, out.String() + errOut.String()
	}
	for _, c := range []struct {
		in   string
		args []string
		code int
		want string
	}{
		{"no\n", []string{"--image", img, "--device", dev}, 1, "not confirmed; nothing written"},
		{"", []string{"--image", img, "--device", dev}, 1, "not confirmed"},
		{"yes\n", []string{"--image", img, "--device", dev, "--keep-data"}, 1, "no readable partition table"},
		{"", []string{"--image", img}, 2, "need --image IMG and --device DEV"},
		{"", []string{"--image", filepath.Join(dir, "none.img"), "--device", dev, "--yes"}, 1, "reading build manifest"},
	} {
		code, msg := run(c.in, c.args...)
		if code != c.code || !strings.Contains(msg, c.want) {
			t.Errorf("%q %v: exit %d, %s; want %d, %q", c.in, c.args, code, msg, c.code, c.want)
		}
		if got, _ := os.ReadFile(dev); !bytes.Equal(got, orig) {
			t.Fatalf("%v changed the device", c.args)
		}
	}
}
