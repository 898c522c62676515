package cores

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
)

// EtcdMember configures one embedded etcd member. A single member with the
// defaults is the single-machine setup; several members with the same
// InitialCluster form a cluster (the tests run three on loopback).
type EtcdMember struct {
	Name    string
	Dir     string
	Client  string // client URL, e.g. http://127.0.0.1:2379
	Peer    string // peer URL, e.g. http://127.0.0.1:2380
	Cluster string // initial cluster, "name=peerURL,..."; default just this member
	Token   string // initial cluster token
	// Existing joins an existing cluster instead of bootstrapping one.
	Existing bool
	LogLevel string // default "error": etcd is chatty
	// ServerCert and ServerKey make the client URL serve TLS; with ClientCA
	// every client must present a certificate signed by it (etcd's
	// --client-cert-auth). Use an https:// client URL with them.
	ServerCert, ServerKey, ClientCA string
	// MaxTxnOps and MaxRequestBytes are etcd's --max-txn-ops and
	// --max-request-bytes; zero means DefaultMaxTxnOps and
	// DefaultMaxRequestBytes, raised from etcd's 128 and 1.5 MiB so that a
	// failover moves a thousand tasks per transaction (docs/cores.md).
	MaxTxnOps, MaxRequestBytes uint
}

// The embedded member's transaction limits: room for a full batch of task
// writes of tasks of a few hundred bytes each. etcd limits the larger of a
// transaction's compare and operation counts, which for a batch is at most
// defaultTxnOps; twice that is headroom, kept because it is the documented
// flag value for external clusters. An external cluster needs the same
// flags for the same speed; with etcd's defaults the store shrinks its
// batches instead.
const (
	DefaultMaxTxnOps       = 2 * defaultTxnOps
	DefaultMaxRequestBytes = 8 << 20
)

// StartEtcd starts an embedded member and waits until it serves clients.
func StartEtcd(ctx context.Context, m EtcdMember) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = m.Name, m.Dir
	cu, err := url.Parse(m.Client)
	if err != nil {
		return nil, fmt.Errorf("etcd client URL %q: %w", m.Client, err)
	}
	pu, err := url.Parse(m.Peer)
	if err != nil {
		return nil, fmt.Errorf("etcd peer URL %q: %w", m.Peer, err)
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = m.Cluster
	if cfg.InitialCluster == "" {
		cfg.InitialCluster = m.Name + "=" + m.Peer
	}
	if m.Token != "" {
		cfg.InitialClusterToken = m.Token
	}
	if m.Existing {
		cfg.ClusterState = embed.ClusterStateFlagExisting
	}
	if m.ServerCert != "" || m.ServerKey != "" || m.ClientCA != "" {
		if m.ServerCert == "" || m.ServerKey == "" || m.ClientCA == "" || cu.Scheme != "https" {
			return nil, fmt.Errorf("etcd member %s: TLS needs a server certificate, its key, a client CA and an https client URL", m.Name)
		}
		cfg.ClientTLSInfo = transport.TLSInfo{CertFile: m.ServerCert, KeyFile: m.ServerKey, TrustedCAFile: m.ClientCA, ClientCertAuth: true}
	}
	cfg.MaxTxnOps, cfg.MaxRequestBytes = DefaultMaxTxnOps, DefaultMaxRequestBytes
	if m.MaxTxnOps != 0 {
		cfg.MaxTxnOps = m.MaxTxnOps
	}
	if m.MaxRequestBytes != 0 {
		cfg.MaxRequestBytes = m.MaxRequestBytes
	}
	cfg.LogLevel = m.LogLevel
	if cfg.LogLevel == "" {
		cfg.LogLevel = "error"
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting etcd member %s: %w", m.Name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd member %s: %w", m.Name, err)
	case <-ctx.Done():
		e.Close()
		return nil, fmt.Errorf("waiting for etcd member %s: %w", m.Name, ctx.Err())
	case <-time.After(2 * time.Minute):
		e.Close()
		return nil, fmt.Errorf("etcd member %s not ready after 2 minutes", m.Name)
	}
}
