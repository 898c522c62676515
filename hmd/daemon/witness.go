package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/hmd/ha"
	"github.com/hafw/hafw/hmd/refusal"
	"github.com/hafw/hafw/hmd/store"
)

// Every hmd can be a witness.
var _ api.WitnessBackend = (*Daemon)(nil)

// witnessProbeTimeout bounds the witness's look at the peer: a live hmd on
// the same LAN completes a TLS handshake in milliseconds, and the asking
// secondary waits on the answer before it takes over.
const witnessProbeTimeout = 500 * time.Millisecond

// Witness implements api.WitnessBackend: the witness hears a peer when the
// peer's hmd answers its API (any answer, even "authentication required",
// proves the process and its network are alive). Only addresses on this
// node's health-monitor subnet are probed, so the witness cannot be used to
// scan other networks.
func (d *Daemon) Witness(ctx context.Context, peer string) (api.WitnessAnswer, error) {
	ip := netip.MustParseAddr(peer) // validated by the handler
	hm, err := d.opt.Config.Port(d.opt.Config.HealthMonitorInterface)
	if err != nil || !hm.Static() || !hm.Address.Masked().Contains(ip) {
		return api.WitnessAnswer{}, refusal.New(refusal.Addressing, "%s is not on this witness's health-monitor subnet", ip)
	}
	pctx, cancel := context.WithTimeout(ctx, witnessProbeTimeout)
	defer cancel()
	c := api.NewRemoteClient(ip, api.RemoteOptions{Timeout: witnessProbeTimeout})
	defer c.CloseIdleConnections()
	_, err = c.Status(pctx)
	var ae *api.Error
	if err == nil || errors.As(err, &ae) {
		return api.WitnessAnswer{Peer: peer, Hears: true, Detail: "hmd answered its API"}, nil
	}
	return api.WitnessAnswer{Peer: peer, Detail: fmt.Sprintf("no answer within %v: %v", witnessProbeTimeout, err)}, nil
}

// askWitness is the third vote: the witness must agree that the primary is
// gone. No answer (witness down, wrong password) is no agreement, so the
// takeover waits: with a witness configured, the secondary never acts on
// its own view alone.
func (d *Daemon) askWitness(c store.PeerConfig) {
	w, hip := c.Witness, c.HIP
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		ctx, cancel := context.WithTimeout(d.ctx, 2*witnessProbeTimeout+time.Second)
		defer cancel()
		c := api.NewRemoteClient(w.Addr, api.RemoteOptions{Pin: w.Pin, ClientCert: &d.opt.Identity.Cert, Password: w.Password, Timeout: 2*witnessProbeTimeout + time.Second})
		defer c.CloseIdleConnections()
		ans, err := c.Witness(ctx, hip.String())
		if err != nil {
			d.log.Warn("witness did not answer: no takeover without its vote", "witness", w.Addr, "peer", hip, "err", err)
			d.post(hip, ha.WitnessVote{PeerDown: false})
			return
		}
		d.log.Info("witness vote", "witness", w.Addr, "peer", hip, "hears", ans.Hears, "detail", ans.Detail)
		d.post(hip, ha.WitnessVote{PeerDown: !ans.Hears})
	}()
}

// witnessed reports whether takeovers in relationship c need the
// witness's vote: only a secondary asks (a primary's claim is not a
// takeover from a live peer).
func (d *Daemon) witnessed(c store.PeerConfig) bool {
	return c.Witness.Addr.IsValid() && d.opt.Config.Role == config.RoleSecondary
}
