// Package tlsid is an appliance's TLS identity: the self-signed
// certificate hmd's API and the replication channel both present, and the
// SHA-256 fingerprint by which peers and the management station pin it.
// It sits below both so that neither imports the other for it.
package tlsid

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/hafw/hafw/internal/atomicfile"
)

// Identity is this appliance's self-generated TLS certificate. Appliances
// have no PKI: the management station and the peer pin its SHA-256
// fingerprint instead (pairing stores each side's fingerprint of the other).
type Identity struct {
	Cert        tls.Certificate
	Fingerprint string
}

// Fingerprint is the lowercase hex SHA-256 of a DER certificate.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// LoadOrCreate reads cert.pem and key.pem from dir, creating them on
// first use. hostname goes into the certificate for the operator's benefit;
// nobody verifies names.
func LoadOrCreate(dir, hostname string) (Identity, error) {
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM, errC := os.ReadFile(certPath)
	keyPEM, errK := os.ReadFile(keyPath)
	if errors.Is(errC, os.ErrNotExist) && errors.Is(errK, os.ErrNotExist) {
		var err error
		certPEM, keyPEM, err = newSelfSigned(hostname)
		if err != nil {
			return Identity{}, err
		}
		// Key first: a cert without its key is useless, a key without a cert
		// is simply regenerated next time.
		if err := atomicfile.Write(keyPath, keyPEM, 0o600); err != nil {
			return Identity{}, fmt.Errorf("save API key: %w", err)
		}
		if err := atomicfile.Write(certPath, certPEM, 0o644); err != nil {
			return Identity{}, fmt.Errorf("save API certificate: %w", err)
		}
	} else if errC != nil || errK != nil {
		return Identity{}, fmt.Errorf("read API certificate in %s: %w", dir, errors.Join(errC, errK))
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return Identity{}, fmt.Errorf("load API certificate from %s: %w", dir, err)
	}
	return Identity{Cert: cert, Fingerprint: Fingerprint(cert.Certificate[0])}, nil
}

func newSelfSigned(hostname string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate API key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("generate serial number: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: hostname, Organization: []string{"hafw appliance"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(30, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{hostname},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create API certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode API key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// ServerTLS is the server side: this identity, TLS 1.3, and a request (not
// a requirement) for the client's certificate so that a paired peer can be
// recognised by its pinned fingerprint.
func (id Identity) ServerTLS() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{id.Cert},
		MinVersion:   tls.VersionTLS13,
		ClientAuth:   tls.RequestClientCert,
	}
}
