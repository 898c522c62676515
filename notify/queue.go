package notify

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Sink delivers one event somewhere. Send may block on the network: it
// runs on its outlet's own goroutine, never on the publisher's.
type Sink interface {
	Send(ctx context.Context, e Event) error
	Close() error
}

// DefaultQueueLen bounds each outlet's queue: enough for the burst of a
// failover (a dozen events) many times over, small enough to cost nothing.
const DefaultQueueLen = 256

// outlet is a sink with its bounded queue and the goroutine that drains
// it. A full queue drops its oldest event: the newest state is what an
// operator needs most.
type outlet struct {
	name string
	sink Sink
	log  *slog.Logger

	mu    sync.Mutex
	items []Event
	max   int
	wake  chan struct{}
	stop  context.CancelFunc
	done  chan struct{}

	sent, failed, dropped atomic.Uint64
	lastErr               atomic.Pointer[string]
}

func startOutlet(name string, sink Sink, max int, log *slog.Logger) *outlet {
	ctx, cancel := context.WithCancel(context.Background())
	o := &outlet{name: name, sink: sink, log: log, max: max, wake: make(chan struct{}, 1), stop: cancel, done: make(chan struct{})}
	go o.run(ctx)
	return o
}

// push queues e without ever blocking.
func (o *outlet) push(e Event) {
	o.mu.Lock()
	if len(o.items) >= o.max {
		o.items = o.items[1:]
		o.dropped.Add(1)
	}
	o.items = append(o.items, e)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outlet) queued() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.items)
}

func (o *outlet) pop() (Event, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.items) == 0 {
		return Event{}, false
	}
	e := o.items[0]
	o.items = o.items[1:]
	return e, true
}

func (o *outlet) run(ctx context.Context) {
	defer close(o.done)
	defer o.sink.Close()
	for {
		e, ok := o.pop()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-o.wake:
				continue
			}
		}
		if err := o.sink.Send(ctx, e); err != nil {
			if ctx.Err() != nil {
				return
			}
			o.failed.Add(1)
			msg := err.Error()
			o.lastErr.Store(&msg)
			o.log.Warn("notification not delivered", "to", o.name, "type", e.Type, "err", err)
			continue
		}
		o.sent.Add(1)
	}
}

// close stops the goroutine; queued events are dropped (and counted).
func (o *outlet) close() {
	o.stop()
	<-o.done
	o.mu.Lock()
	o.dropped.Add(uint64(len(o.items)))
	o.items = nil
	o.mu.Unlock()
}

func (o *outlet) stats(v *View) {
	v.Queued = o.queued()
	v.Sent, v.Failed, v.Dropped = o.sent.Load(), o.failed.Load(), o.dropped.Load()
	if p := o.lastErr.Load(); p != nil {
		v.LastError = *p
	}
}
