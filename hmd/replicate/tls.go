package replicate

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/hafw/hafw/internal/tlsid"
)

// TLSConfig is the replication channel's TLS: TLS 1.3, this node's pairing
// identity (the same self-signed certificate as hmd's API), and the peer
// accepted only when its certificate matches the fingerprint pinned at
// pairing — in both directions, so that neither side talks to a stranger.
func TLSConfig(id tlsid.Identity, peerFingerprint string, server bool) (*tls.Config, error) {
	if peerFingerprint == "" {
		return nil, errors.New("replication TLS: no pinned peer fingerprint (pair first)")
	}
	cfg := PinnedTLS(id, func(fp string) error {
		if fp != peerFingerprint {
			return fmt.Errorf("replication peer certificate %s is not the paired one", fp)
		}
		return nil
	})
	if server {
		cfg.ClientAuth = tls.RequireAnyClientCert
	}
	return cfg, nil
}

// PinnedTLS is the replication TLS of either side with a pin check that
// may change while the configuration lives (a listener that outlives a
// pairing asks allowed at every connection).
//
// The pin is checked in VerifyConnection, which crypto/tls calls on every
// handshake, resumed ones included (VerifyPeerCertificate is skipped when
// a session is resumed, so a peer unpaired since its first connection
// could come back with its old ticket). Session tickets are off as well:
// replication connects rarely, and a full handshake re-proves the key.
func PinnedTLS(id tlsid.Identity, allowed func(fingerprint string) error) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{id.Cert},
		MinVersion:   tls.VersionTLS13,
		// Full-size records from the first byte: the channel carries bulk
		// copies, and a commit's entry is a single small write either way.
		DynamicRecordSizingDisabled: true,
		SessionTicketsDisabled:      true,
		// Names are not verified: there is no PKI, the pin is the check.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("replication peer sent no certificate")
			}
			return allowed(tlsid.Fingerprint(cs.PeerCertificates[0].Raw))
		},
	}
}
