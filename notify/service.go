package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/hafw/hafw/internal/atomicfile"
)

// ErrNotFound is returned for a destination that does not exist.
var ErrNotFound = errors.New("no such trap destination")

// Settings is what the service stores (0600: it holds the secrets).
type Settings struct {
	Destinations []Destination `json:"destinations"`
	Rules        []Rule        `json:"rules,omitempty"`
	Syslog       *Syslog       `json:"syslog,omitempty"`
	// EngineID and EngineBoots are the SNMPv3 engine of this appliance.
	EngineID    []byte `json:"engine_id"`
	EngineBoots uint32 `json:"engine_boots"`
}

// Options configure a Service.
type Options struct {
	// Path is the settings file on the data partition.
	Path string
	// Node is this appliance's host name.
	Node string
	Log  *slog.Logger
	// Timeout bounds one SNMP exchange (5 s when zero).
	Timeout time.Duration
	// QueueLen bounds each outlet's queue (DefaultQueueLen when zero).
	QueueLen int
}

// Service is the notification fan-out of one appliance, safe for
// concurrent use.
type Service struct {
	opt    Options
	engine Engine

	// saveMu orders settings writes; mu guards the state and is never
	// held across I/O, so Publish never waits for a disk.
	saveMu   sync.Mutex
	mu       sync.Mutex
	settings Settings
	outlets  map[string]*outlet
	subs     []func(Event)
	closed   bool
}

// EnginePrefix starts this appliance's SNMPv3 engine IDs (RFC 3411: the
// enterprise number with the high bit set, then format 5, octets).
var EnginePrefix = []byte{0x80, 0x00, 0x7e, 0xd9, 0x05}

// Open loads the settings (a missing file is none; a damaged one is moved
// aside and reported, never fatal: notifications must not stop HA),
// counts an engine boot and starts an outlet per destination.
func Open(opt Options) (*Service, error) {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Timeout == 0 {
		opt.Timeout = 5 * time.Second
	}
	if opt.QueueLen == 0 {
		opt.QueueLen = DefaultQueueLen
	}
	s := &Service{opt: opt, outlets: map[string]*outlet{}}
	data, err := os.ReadFile(opt.Path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read notification settings: %w", err)
	default:
		if err := json.Unmarshal(data, &s.settings); err != nil {
			aside := opt.Path + ".damaged"
			opt.Log.Error("notification settings are damaged: starting without trap destinations", "file", opt.Path, "moved-to", aside, "err", err)
			if err := os.Rename(opt.Path, aside); err != nil {
				return nil, fmt.Errorf("move damaged notification settings aside: %w", err)
			}
			s.settings = Settings{}
		}
	}
	if len(s.settings.EngineID) == 0 {
		id := make([]byte, 8)
		if _, err := rand.Read(id); err != nil {
			return nil, fmt.Errorf("make SNMP engine ID: %w", err)
		}
		s.settings.EngineID = append(slices.Clone(EnginePrefix), id...)
	}
	s.settings.EngineBoots++
	s.engine = Engine{ID: s.settings.EngineID, Boots: s.settings.EngineBoots, Start: time.Now()}
	if err := s.save(s.settings); err != nil {
		return nil, err
	}
	s.reconcile()
	return s, nil
}

// EngineID is this appliance's SNMPv3 engine ID in hex, for the
// receivers' user configuration.
func (s *Service) EngineID() string { return hex.EncodeToString(s.engine.ID) }

func (s *Service) save(st Settings) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode notification settings: %w", err)
	}
	if err := atomicfile.Write(s.opt.Path, data, 0o600); err != nil {
		return fmt.Errorf("save notification settings: %w", err)
	}
	return nil
}

// reconcile makes the outlets match the settings (mu held or not yet
// shared): a changed destination gets a new outlet.
func (s *Service) reconcile() {
	want := map[string]Sink{}
	for _, d := range s.settings.Destinations {
		want["trap:"+d.Name] = nil
	}
	if s.settings.Syslog != nil {
		want[TargetSyslog] = nil
	}
	for name, o := range s.outlets {
		if _, ok := want[name]; !ok || s.changed(name, o) {
			go o.close()
			delete(s.outlets, name)
		}
	}
	for _, d := range s.settings.Destinations {
		if _, ok := s.outlets["trap:"+d.Name]; !ok {
			s.outlets["trap:"+d.Name] = startOutlet("trap:"+d.Name, newSNMPSink(d, s.engine, s.opt.Timeout), s.opt.QueueLen, s.opt.Log)
		}
	}
	if sl := s.settings.Syslog; sl != nil {
		if _, ok := s.outlets[TargetSyslog]; !ok {
			s.outlets[TargetSyslog] = startOutlet(TargetSyslog, newSyslogSink(*sl, s.opt.Node, s.opt.Timeout), s.opt.QueueLen, s.opt.Log)
		}
	}
}

// changed reports whether an outlet's sink no longer matches its setting.
func (s *Service) changed(name string, o *outlet) bool {
	switch sink := o.sink.(type) {
	case *snmpSink:
		i := slices.IndexFunc(s.settings.Destinations, func(d Destination) bool { return "trap:"+d.Name == name })
		return i < 0 || s.settings.Destinations[i] != sink.dest
	case *syslogSink:
		return s.settings.Syslog == nil || *s.settings.Syslog != sink.cfg
	}
	return true
}

// Subscribe has f called with every published event, synchronously: f
// must be quick and must not block (metrics counters).
func (s *Service) Subscribe(f func(Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, f)
}

// Publish hands events to the outlets the rules pick. It never blocks on
// I/O: it is called from hmd's HA event loop.
func (s *Service) Publish(evs ...Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	names := make([]string, 0, len(s.outlets))
	for name := range s.outlets {
		names = append(names, name)
	}
	for _, e := range evs {
		if e.Node == "" {
			e.Node = s.opt.Node
		}
		for _, f := range s.subs {
			f(e)
		}
		for _, name := range targets(s.settings.Rules, names, e) {
			s.outlets[name].push(e)
		}
	}
}

// Destinations lists the trap destinations without their secrets, with
// their delivery counters.
func (s *Service) Destinations() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]View, 0, len(s.settings.Destinations))
	for _, d := range s.settings.Destinations {
		v := d.View()
		if o := s.outlets["trap:"+d.Name]; o != nil {
			o.stats(&v)
		}
		out = append(out, v)
	}
	return out
}

// update applies change to a copy of the settings, validates the rules
// against the destinations, stores the result and only then makes it
// current: a failed write changes nothing.
func (s *Service) update(change func(*Settings) error) error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	next := s.settings
	next.Destinations = slices.Clone(next.Destinations)
	next.Rules = slices.Clone(next.Rules)
	s.mu.Unlock()
	if err := change(&next); err != nil {
		return err
	}
	if err := validateRules(next.Rules, next.Destinations, next.Syslog); err != nil {
		return err
	}
	if err := s.save(next); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settings = next
	if !s.closed {
		s.reconcile()
	}
	return nil
}

// PutDestination adds d, or replaces the destination of the same name.
func (s *Service) PutDestination(d Destination) error {
	if err := d.Validate(); err != nil {
		return err
	}
	d.Updated = time.Now().UTC().Truncate(time.Second)
	return s.update(func(st *Settings) error {
		if i := slices.IndexFunc(st.Destinations, func(x Destination) bool { return x.Name == d.Name }); i >= 0 {
			st.Destinations[i] = d
		} else {
			st.Destinations = append(st.Destinations, d)
		}
		return nil
	})
}

// DeleteDestination removes the destination called name; rules that send
// to it must go first.
func (s *Service) DeleteDestination(name string) error {
	return s.update(func(st *Settings) error {
		i := slices.IndexFunc(st.Destinations, func(x Destination) bool { return x.Name == name })
		if i < 0 {
			return fmt.Errorf("%w: %q", ErrNotFound, name)
		}
		st.Destinations = slices.Delete(st.Destinations, i, i+1)
		return nil
	})
}

// Rules returns the notification rules.
func (s *Service) Rules() []Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.settings.Rules)
}

// SetRules replaces the notification rules.
func (s *Service) SetRules(rules []Rule) error {
	return s.update(func(st *Settings) error {
		st.Rules = rules
		return nil
	})
}

// Test sends a test notification to the destination called name now,
// bypassing its queue, and reports what happened. A trap is not
// acknowledged, so success means only that it left; an inform's success
// means the receiver took it (with the right SNMPv3 credentials).
func (s *Service) Test(ctx context.Context, name string) error {
	s.mu.Lock()
	i := slices.IndexFunc(s.settings.Destinations, func(x Destination) bool { return x.Name == name })
	var d Destination
	if i >= 0 {
		d = s.settings.Destinations[i]
	}
	s.mu.Unlock()
	if i < 0 {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	sink := newSNMPSink(d, s.engine, s.opt.Timeout)
	sink.retries = 1
	defer sink.Close()
	return sink.Send(ctx, Event{Time: time.Now(), Type: TypeTest, Severity: Info, Node: s.opt.Node,
		Text: "Test notification requested by the operator"})
}

// Close stops every outlet; what is still queued is dropped.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	outlets := s.outlets
	s.outlets = map[string]*outlet{}
	s.mu.Unlock()
	for _, o := range outlets {
		o.close()
	}
}

// Syslog is the remote syslog collector, nil when none.
func (s *Service) Syslog() *Syslog {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.settings.Syslog == nil {
		return nil
	}
	c := *s.settings.Syslog
	return &c
}

// SetSyslog sets the collector (nil: none). Rules that send to syslog
// need one.
func (s *Service) SetSyslog(c *Syslog) error {
	if c != nil {
		if err := c.Validate(); err != nil {
			return err
		}
	}
	err := s.update(func(st *Settings) error {
		st.Syslog = c
		if c == nil && slices.ContainsFunc(st.Rules, func(r Rule) bool { return r.Target == TargetSyslog }) {
			return fmt.Errorf("a notification rule sends to syslog: change the rules first")
		}
		return nil
	})
	switch {
	case err != nil:
	case c == nil:
		s.opt.Log.Info("syslog forwarding off")
	default:
		// The first line the new collector receives says what it is.
		s.opt.Log.Info("syslog collector set", "address", c.Address, "transport", c.Transport)
	}
	return err
}
