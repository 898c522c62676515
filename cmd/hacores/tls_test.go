package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// issue writes a certificate (and key) signed by parent, or self-signed
// when parent is nil, and returns it for signing others.
func issue(t *testing.T, dir, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.Subject = pkix.Name{CommonName: name}
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	signer, signerKey := parent, parentKey
	if parent == nil {
		signer, signerKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(name+".pem", "CERTIFICATE", der)
	write(name+"-key.pem", "EC PRIVATE KEY", kb)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestClientCertificateRequired: the embedded etcd with --etcd-cert only
// serves clients whose certificate the CA signed.
func TestClientCertificateRequired(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := issue(t, dir, "ca", nil, nil, &x509.Certificate{IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature})
	issue(t, dir, "server", ca, caKey, &x509.Certificate{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}})
	issue(t, dir, "core1", ca, caKey, &x509.Certificate{KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	rogueCA, rogueKey := issue(t, dir, "rogue-ca", nil, nil, &x509.Certificate{IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign})
	issue(t, dir, "intruder", rogueCA, rogueKey, &x509.Certificate{KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})

	ep := strings.Replace(freeURL(t), "http://", "https://", 1)
	p := func(name string) string { return filepath.Join(dir, name) }
	auth := []string{"--endpoints", ep, "--cacert", p("ca.pem"), "--cert", p("core1.pem"), "--key", p("core1-key.pem")}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		var sink strings.Builder
		done <- run(ctx, append(append([]string{}, auth...), "run", "--num", "1", "--ttl", "2s", "--embedded",
			"--etcd-dir", p("etcd"), "--etcd-peer", freeURL(t), "--etcd-cert", p("server.pem"), "--etcd-key", p("server-key.pem")), &sink, &sink)
	}()
	t.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code, out := runCLI(t, append(append([]string{}, auth...), "cores")...); code == 0 && strings.Contains(out, "running") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("core 1 never showed up as running over TLS")
		}
		time.Sleep(200 * time.Millisecond)
	}
	short := func(args ...string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		defer cancel()
		var out strings.Builder
		code := run(ctx, args, &out, &out)
		return code, out.String()
	}
	if code, out := short("--endpoints", ep, "--cacert", p("ca.pem"), "cores"); code == 0 {
		t.Errorf("a client without a certificate was served:\n%s", out)
	}
	if code, out := short("--endpoints", ep, "--cacert", p("ca.pem"), "--cert", p("intruder.pem"), "--key", p("intruder-key.pem"), "cores"); code == 0 {
		t.Errorf("a client with a certificate from another CA was served:\n%s", out)
	}
}
