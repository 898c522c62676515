package daemon

import (
	"context"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/hmd/refusal"
	"github.com/hafw/hafw/hmd/store"
)

// Every hmd answers its paired peers about the VIP.
var _ api.PeerClaimBackend = (*Daemon)(nil)

// peerClaimTimeout bounds the question to the peer: a live hmd on the same
// LAN answers in milliseconds. No answer in time means no confirmation,
// and the primary keeps the VIP (the next probe asks again).
const peerClaimTimeout = 3 * time.Second

// PeerClaim implements api.PeerClaimBackend: this node's hold on the VIP of
// its pair with the peer whose pinned certificate asks.
func (d *Daemon) PeerClaim(ctx context.Context, fp string) (api.VIPClaim, error) {
	return call(ctx, d, func() (api.VIPClaim, error) {
		for _, p := range d.peers {
			if p.cfg.Fingerprint == fp {
				return api.VIPClaim{HoldsVIP: p.node.HoldsVIP, Epoch: p.node.Epoch, State: string(p.node.State)}, nil
			}
		}
		return api.VIPClaim{}, refusal.New(refusal.NotAPeer, "not a paired peer")
	})
}

// askPeerClaim asks the peer of relationship c, over its API behind the
// pinned certificate, whether it holds the VIP (ha.AskPeerClaim): the
// authenticated check a primary makes before it believes ARP answers that
// say the peer took the VIP over.
func (d *Daemon) askPeerClaim(c store.PeerConfig) {
	hip, fp := c.HIP, c.Fingerprint
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		ctx, cancel := context.WithTimeout(d.ctx, peerClaimTimeout)
		defer cancel()
		client := api.NewRemoteClient(hip, api.RemoteOptions{Pin: fp, ClientCert: &d.opt.Identity.Cert, Timeout: peerClaimTimeout})
		defer client.CloseIdleConnections()
		claim, err := client.PeerClaim(ctx)
		if err != nil {
			d.log.Warn("the peer did not confirm its claim of the VIP: keeping it", "peer", hip, "err", err)
			d.post(hip, ha.PeerClaim{})
			return
		}
		d.log.Info("the peer's claim of the VIP", "peer", hip, "holds", claim.HoldsVIP, "epoch", claim.Epoch, "state", claim.State)
		d.post(hip, ha.PeerClaim{Answered: true, HoldsVIP: claim.HoldsVIP, Epoch: claim.Epoch})
	}()
}
