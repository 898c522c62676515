package osnet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// DHCP client timing: each exchange is retried by nclient4 (timeout ×
// retries); a failed DISCOVER round is repeated with capped exponential
// backoff so that an appliance booted before its DHCP server comes up gets
// an address soon after the server does, without flooding the segment.
const (
	dhcpExchangeTimeout = 2 * time.Second
	dhcpRetries         = 3
	discoverBackoffMin  = time.Second
	discoverBackoffMax  = 30 * time.Second
)

// dhcpRun is one port's running DHCP client.
type dhcpRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// stopDHCP stops name's DHCP client, if any, and waits for it.
func (h *Host) stopDHCP(name string) {
	h.mu.Lock()
	r := h.dhcp[name]
	delete(h.dhcp, name)
	h.mu.Unlock()
	if r != nil {
		r.cancel()
		<-r.done
	}
}

// startDHCP opens the client's socket (in the calling thread's namespace),
// starts the lease loop and waits up to dhcpWait for the first lease.
func (h *Host) startDHCP(ctx context.Context, name string) (Status, error) {
	client, err := nclient4.New(name, nclient4.WithTimeout(dhcpExchangeTimeout), nclient4.WithRetry(dhcpRetries))
	if err != nil {
		st := Status{Name: name, State: StateDown, DHCP: true, Err: err.Error()}
		h.setStatus(st)
		return st, fmt.Errorf("start DHCP client on %s: %w", name, err)
	}
	h.setStatus(Status{Name: name, State: StateDHCPPending, DHCP: true})
	rctx, cancel := context.WithCancel(ctx)
	r := &dhcpRun{cancel: cancel, done: make(chan struct{})}
	first := make(chan struct{})
	h.mu.Lock()
	h.dhcp[name] = r
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer close(r.done)
		defer client.Close()
		h.runDHCP(rctx, name, client, first)
	}()
	wait := time.NewTimer(h.dhcpWait)
	defer wait.Stop()
	select {
	case <-first:
	case <-wait.C:
	case <-ctx.Done():
	}
	return h.Status(name)
}

// runDHCP keeps name leased until ctx ends: DISCOVER until a lease is
// applied, renew from T1, rebind from T2, and on expiry or NAK drop the
// address and start over. first is closed after the first applied lease.
//
// nclient4 sends renewals to the broadcast address, so renewing and
// rebinding look alike on the wire; the phases still decide the pacing.
func (h *Host) runDHCP(ctx context.Context, name string, client *nclient4.Client, first chan struct{}) {
	log := h.log.With("interface", name)
	signalled := false
	var (
		raw     *nclient4.Lease
		cur     Lease
		lastTry time.Time
	)
	backoff := discoverBackoffMin
	for ctx.Err() == nil {
		if raw == nil {
			got, err := client.Request(ctx)
			if err == nil {
				cur, err = h.applyLease(name, got)
			}
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				log.Warn("DHCP: no lease yet", "err", err, "retry_in", backoff)
				h.noteErr(name, err)
				if !sleepUntil(ctx, time.Now().Add(backoff)) {
					return
				}
				backoff = min(backoff*2, discoverBackoffMax)
				continue
			}
			raw, lastTry, backoff = got, time.Time{}, discoverBackoffMin
			if !signalled {
				close(first)
				signalled = true
			}
			continue
		}
		if cur.Infinite {
			<-ctx.Done()
			return
		}
		now := time.Now()
		if cur.PhaseAt(now) == Expired {
			log.Warn("DHCP: lease expired", "address", cur.Address)
			h.dropLease(name, errors.New("lease expired"))
			raw = nil
			continue
		}
		if !sleepUntil(ctx, cur.NextAttempt(now, lastTry)) {
			return
		}
		phase := cur.PhaseAt(time.Now())
		if phase == Expired || phase == Bound {
			continue
		}
		lastTry = time.Now()
		renewed, err := client.Renew(ctx, raw)
		var nak *nclient4.ErrNak
		switch {
		case errors.As(err, &nak):
			log.Warn("DHCP: server refused renewal", "address", cur.Address, "err", err)
			h.dropLease(name, err)
			raw = nil
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			log.Warn("DHCP: renewal failed", "phase", phase, "address", cur.Address, "err", err)
			h.noteErr(name, err)
		default:
			next, err := h.applyLease(name, renewed)
			if err != nil {
				log.Warn("DHCP: renewal unusable", "err", err)
				h.noteErr(name, err)
				continue
			}
			raw, cur = renewed, next
		}
	}
}

// applyLease puts a granted lease on the interface and records it.
func (h *Host) applyLease(name string, got *nclient4.Lease) (Lease, error) {
	l, err := LeaseFromACK(got.ACK, got.CreationTime)
	if err != nil {
		return Lease{}, err
	}
	link, err := h.link(name)
	if err != nil {
		return Lease{}, err
	}
	var lifetime time.Duration
	if !l.Infinite {
		lifetime = time.Until(l.Expiry())
		if lifetime < time.Second {
			return Lease{}, fmt.Errorf("%w: lease for %s already expired", ErrBadLease, l.Address)
		}
	}
	if err := h.applyAddress(link, l.Address, l.Router, lifetime); err != nil {
		return Lease{}, err
	}
	h.setStatus(Status{Name: name, State: StateConfigured, DHCP: true, Address: l.Address, Gateway: l.Router, LeaseExpiry: l.Expiry()})
	h.log.Info("DHCP: lease applied", "interface", name, "address", l.Address, "gateway", l.Router,
		"server", l.Server, "lease", l.Duration, "t1", l.T1, "t2", l.T2)
	if h.resolvConf != "" && len(l.DNS) > 0 {
		if err := WriteResolvConf(h.resolvConf, l.DNS, l.DomainName); err != nil {
			// The address is in place; a bad DNS option must not cost it.
			h.log.Warn("DHCP: DNS servers not applied", "interface", name, "err", err)
		}
	}
	if h.onLease != nil {
		h.onLease(name, l)
	}
	return l, nil
}

// dropLease removes a lost lease's address and default route.
func (h *Host) dropLease(name string, why error) {
	st := Status{Name: name, State: StateDHCPPending, DHCP: true, Err: why.Error()}
	if link, err := h.link(name); err == nil {
		if err := errors.Join(h.flush(link, false), h.removeDefaultRoutes(link)); err != nil {
			h.log.Warn("DHCP: removing expired lease", "interface", name, "err", err)
		}
	}
	h.setStatus(st)
}

func (h *Host) noteErr(name string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.status[name]
	st.Err = err.Error()
	h.status[name] = st
}

// sleepUntil waits for t or ctx; it reports whether t was reached.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
