// Package devkey holds the DEVELOPMENT vendor key pair: for tests, the QEMU
// labs and development images only. Its private half is in the source tree,
// so anyone can sign licenses with it; a release image must be built with
// the vendor's own public key instead (image builder flag), and then no
// license signed here verifies on it.
//
// Files: dev.pub and dev.key in this directory, in the licensing key file
// format (licensing.ReadPublicKey / ReadPrivateKey), so shell scripts and
// `hafw license issue --key licensing/devkey/dev.key` can use them as well.
package devkey

import (
	"crypto/ed25519"
	_ "embed"
	"fmt"
	"time"

	"github.com/hafw/hafw/licensing"
)

var (
	//go:embed dev.pub
	pubFile []byte
	//go:embed dev.key
	keyFile []byte
)

// PublicKeyFile is the content of dev.pub, ready to be written to
// /etc/hafw/vendor.pub of a development image.
func PublicKeyFile() []byte { return append([]byte(nil), pubFile...) }

// Public is the development vendor public key.
func Public() ed25519.PublicKey {
	pub, err := licensing.ParsePublicKey(pubFile)
	if err != nil {
		panic(fmt.Sprintf("devkey: embedded dev.pub: %v", err)) // a broken checked-in file; the package test catches it
	}
	return pub
}

// Private is the development vendor private key.
func Private() ed25519.PrivateKey {
	priv, err := licensing.ParsePrivateKey(keyFile)
	if err != nil {
		panic(fmt.Sprintf("devkey: embedded dev.key: %v", err))
	}
	return priv
}

// Issue signs a license with the development key; an empty ID gets a random
// one and a zero Issued date means today.
func Issue(l licensing.License) ([]byte, error) {
	if l.Issued.IsZero() {
		l.Issued = time.Now()
	}
	return licensing.Issue(Private(), l)
}

// Activation issues a development activation license (L-MSE-7.0-K9) for the
// virtual appliance with the given UDI, never expiring: what a QEMU lab
// needs so that a VA may join an HA pair.
func Activation(udi licensing.UDI) ([]byte, error) {
	return Issue(licensing.License{Feature: licensing.Activation, Count: 1, UDI: udi})
}
