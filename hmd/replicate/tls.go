package replicate

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/hafw/hafw/hmd/api"
)

// TLSConfig is the replication channel's TLS: TLS 1.3, this node's pairing
// identity (the same self-signed certificate as hmd's API), and the peer
// accepted only when its certificate matches the fingerprint pinned at
// pairing — in both directions, so that neither side talks to a stranger.
func TLSConfig(id api.Identity, peerFingerprint string, server bool) (*tls.Config, error) {
	if peerFingerprint == "" {
		return nil, errors.New("replication TLS: no pinned peer fingerprint (pair first)")
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{id.Cert},
		MinVersion:   tls.VersionTLS13,
		// Full-size records from the first byte: the channel carries bulk
		// copies, and a commit's entry is a single small write either way.
		DynamicRecordSizingDisabled: true,
		// Names are not verified: there is no PKI, the pin is the check.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("replication peer sent no certificate")
			}
			if got := api.Fingerprint(raw[0]); got != peerFingerprint {
				return fmt.Errorf("replication peer certificate %s is not the paired one", got)
			}
			return nil
		},
	}
	if server {
		cfg.ClientAuth = tls.RequireAnyClientCert
	}
	return cfg, nil
}
