package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/hafw/hafw/notify"
)

// Trap destinations and notification rules (package notify): the seed's
// "Trap Destinations" page. Secrets (communities, SNMPv3 keys) go in and
// are never sent back out.

// NotifyBackend is implemented by a backend with a notification service
// (*notify.Service); NewHandler serves the /v1/traps and /v1/notify routes
// only then.
type NotifyBackend interface {
	Destinations() []notify.View
	EngineID() string
	PutDestination(d notify.Destination) error
	DeleteDestination(name string) error
	Test(ctx context.Context, name string) error
	Rules() []notify.Rule
	SetRules(rules []notify.Rule) error
	Syslog() *notify.Syslog
	SetSyslog(c *notify.Syslog) error
}

// SyslogConfig is GET and PUT /v1/syslog: the remote collector of events
// (per the rules) and log lines; Collector nil turns forwarding off.
type SyslogConfig struct {
	Collector *notify.Syslog `json:"collector"`
}

func (c *SyslogConfig) validate() []FieldError {
	if c.Collector == nil {
		return nil
	}
	return fieldErrors(c.Collector.Validate())
}

// TrapList is GET /v1/traps.
type TrapList struct {
	// EngineID is this appliance's SNMPv3 engine ID (hex): receivers of
	// v3 traps configure their user for it.
	EngineID     string        `json:"engine_id"`
	Destinations []notify.View `json:"destinations"`
}

// TrapDestination is POST /v1/traps: add a destination or replace the one
// of the same name.
type TrapDestination notify.Destination

func (d *TrapDestination) validate() []FieldError {
	return fieldErrors(notify.Destination(*d).Validate())
}

// RuleList is GET and PUT /v1/notify/rules.
type RuleList struct {
	Rules []notify.Rule `json:"rules"`
}

func (*RuleList) validate() []FieldError { return nil } // checked against the destinations by the service

// fieldErrors turns a validation error into the API's field list.
func fieldErrors(err error) []FieldError {
	if err == nil {
		return nil
	}
	return FromValidation(err).Fields
}

// notifyError maps the service's errors to API errors.
func notifyError(err error) error {
	if errors.Is(err, notify.ErrNotFound) {
		return Errorf(http.StatusNotFound, "%v", err)
	}
	return err
}

func (h *handler) notifyRoutes(mux *http.ServeMux, b NotifyBackend) {
	mux.HandleFunc("GET /v1/traps", h.admin(func(w http.ResponseWriter, r *http.Request) {
		h.reply(w, TrapList{EngineID: b.EngineID(), Destinations: b.Destinations()})
	}))
	mux.HandleFunc("POST /v1/traps", h.admin(operation[TrapDestination](h, func(_ context.Context, d TrapDestination) (Result, error) {
		if err := b.PutDestination(notify.Destination(d)); err != nil {
			return Result{}, err
		}
		return Result{Message: "trap destination " + d.Name + " saved"}, nil
	})))
	mux.HandleFunc("DELETE /v1/traps/{name}", h.admin(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if err := b.DeleteDestination(name); err != nil {
			h.fail(w, r, notifyError(err))
			return
		}
		h.reply(w, Result{Message: "trap destination " + name + " deleted"})
	}))
	mux.HandleFunc("POST /v1/traps/{name}/test", h.admin(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if err := b.Test(r.Context(), name); err != nil {
			if errors.Is(err, notify.ErrNotFound) {
				h.fail(w, r, notifyError(err))
				return
			}
			// The receiver's refusal is the answer the operator asked
			// for, not a fault of hmd.
			h.fail(w, r, Errorf(http.StatusBadGateway, "test notification failed: %v", err))
			return
		}
		h.reply(w, Result{Message: "test notification sent to " + name})
	}))
	mux.HandleFunc("GET /v1/syslog", h.admin(func(w http.ResponseWriter, r *http.Request) {
		h.reply(w, SyslogConfig{Collector: b.Syslog()})
	}))
	mux.HandleFunc("PUT /v1/syslog", h.admin(operation[SyslogConfig](h, func(_ context.Context, c SyslogConfig) (Result, error) {
		if err := b.SetSyslog(c.Collector); err != nil {
			return Result{}, err
		}
		if c.Collector == nil {
			return Result{Message: "syslog forwarding off"}, nil
		}
		return Result{Message: "syslog forwarding to " + c.Collector.Address + "/" + c.Collector.Transport}, nil
	})))
	mux.HandleFunc("GET /v1/notify/rules", h.admin(func(w http.ResponseWriter, r *http.Request) {
		h.reply(w, RuleList{Rules: b.Rules()})
	}))
	mux.HandleFunc("PUT /v1/notify/rules", h.admin(operation[RuleList](h, func(_ context.Context, l RuleList) (Result, error) {
		if err := b.SetRules(l.Rules); err != nil {
			return Result{}, err
		}
		return Result{Message: "notification rules saved"}, nil
	})))
}

// Traps is GET /v1/traps.
func (c *Client) Traps(ctx context.Context) (TrapList, error) {
	var l TrapList
	err := c.do(ctx, http.MethodGet, "/v1/traps", nil, &l)
	return l, err
}

// PutTrap is POST /v1/traps.
func (c *Client) PutTrap(ctx context.Context, d TrapDestination) (Result, error) {
	var res Result
	err := c.do(ctx, http.MethodPost, "/v1/traps", d, &res)
	return res, err
}

// DeleteTrap is DELETE /v1/traps/{name}.
func (c *Client) DeleteTrap(ctx context.Context, name string) (Result, error) {
	var res Result
	err := c.do(ctx, http.MethodDelete, "/v1/traps/"+url.PathEscape(name), nil, &res)
	return res, err
}

// TestTrap is POST /v1/traps/{name}/test.
func (c *Client) TestTrap(ctx context.Context, name string) (Result, error) {
	var res Result
	err := c.do(ctx, http.MethodPost, "/v1/traps/"+url.PathEscape(name)+"/test", nil, &res)
	return res, err
}

// NotifyRules is GET /v1/notify/rules.
func (c *Client) NotifyRules(ctx context.Context) ([]notify.Rule, error) {
	var l RuleList
	err := c.do(ctx, http.MethodGet, "/v1/notify/rules", nil, &l)
	return l.Rules, err
}

// SetNotifyRules is PUT /v1/notify/rules.
func (c *Client) SetNotifyRules(ctx context.Context, rules []notify.Rule) (Result, error) {
	var res Result
	err := c.do(ctx, http.MethodPut, "/v1/notify/rules", RuleList{Rules: rules}, &res)
	return res, err
}

// SyslogCollector is GET /v1/syslog.
func (c *Client) SyslogCollector(ctx context.Context) (*notify.Syslog, error) {
	var sc SyslogConfig
	err := c.do(ctx, http.MethodGet, "/v1/syslog", nil, &sc)
	return sc.Collector, err
}

// SetSyslogCollector is PUT /v1/syslog.
func (c *Client) SetSyslogCollector(ctx context.Context, col *notify.Syslog) (Result, error) {
	var res Result
	err := c.do(ctx, http.MethodPut, "/v1/syslog", SyslogConfig{Collector: col}, &res)
	return res, err
}
