package devkey

import (
	"testing"

	"time"

	"github.com/hafw/hafw/licensing"
)

// TestKeyPairMatches guards the checked-in files: the public key must be
// the private key's half, or every lab license would fail to verify.
func TestKeyPairMatches(t *testing.T) {
	if !Public().Equal(Private().Public()) {
		t.Fatal("dev.pub is not the public half of dev.key")
	}
	pub, err := licensing.ParsePublicKey(PublicKeyFile())
	if err != nil || !pub.Equal(Public()) {
		t.Fatalf("PublicKeyFile does not parse to Public: %v", err)
	}
}

func TestActivationVerifies(t *testing.T) {
	udi, err := licensing.ParseUDI("AIR-MSE-VA-K9:V01:lab1_00000000-0000-0000-0000-000000000001")
	if err != nil {
		t.Fatal(err)
	}
	data, err := Activation(udi)
	if err != nil {
		t.Fatal(err)
	}
	l, err := licensing.Verify(data, Public(), udi, time.Now())
	if err != nil {
		t.Fatalf("dev activation license does not verify: %v\n%s", err, data)
	}
	if l.Feature != licensing.Activation || l.Count != 1 {
		t.Fatalf("got %+v", l)
	}
}
