package main

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"

	"github.com/hafw/hafw/config"
	"github.com/hafw/hafw/hmd/api"
)

// adminPassword is the administrator password hash of the appliance
// configuration file. Every password check (API, console, metrics) reads it
// from memory; a change through the API rewrites the file atomically with
// only the hash replaced, and takes effect at once, without a restart.
type adminPassword struct {
	path string
	hash atomic.Pointer[string]
}

func newAdminPassword(path, hash string) *adminPassword {
	p := &adminPassword{path: path}
	p.hash.Store(&hash)
	return p
}

// Hash is the current hash (api.Password.Hash).
func (p *adminPassword) Hash() string { return *p.hash.Load() }

// Store saves hash in the configuration file, then serves it
// (api.Password.Store). The file is read again rather than written from
// hmd's copy, which recovery mode changes in memory.
func (p *adminPassword) Store(hash string) error {
	cfg, err := config.Load(p.path)
	if err != nil {
		return fmt.Errorf("read the configuration: %w", err)
	}
	cfg.PasswordHash = hash
	if err := config.Save(p.path, cfg); err != nil {
		return fmt.Errorf("save the configuration: %w", err)
	}
	p.hash.Store(&hash)
	return nil
}

// newPasswordCheck is the one password check of this hmd: the remote API,
// the console and /metrics share its per-client limit, and a change through
// it is seen by all of them.
func newPasswordCheck(path, hash string) *api.Password {
	p := newAdminPassword(path, hash)
	return &api.Password{Hash: p.Hash, Check: config.CheckPassword, Store: p.Store}
}

// ChangePassword implements api.PasswordBackend; the change is in the
// events log, with where it came from.
func (b opsBackend) ChangePassword(_ context.Context, client netip.Addr, req api.PasswordChange) (api.Result, error) {
	if err := b.password.Change(client, req.Old, req.New); err != nil {
		return api.Result{}, err
	}
	from := "from the local socket"
	if client.IsValid() {
		from = "from " + client.String()
	}
	b.Daemon.Event(netip.Addr{}, "Administrator password changed", from)
	return api.Result{Message: "The administrator password is changed; console sessions have ended. Give the new one to any appliance that pairs with this one from now on."}, nil
}
