package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Writer is the demo's client: it writes numbered elements to the tracker
// service on the VIP, one after another, and remembers which writes the
// service acknowledged and when. Its connections come from dial (inside
// the demo's network namespace), one per write, so every write finds out
// afresh who answers on the VIP.
type Writer struct {
	base string
	http *http.Client

	mu       sync.Mutex
	attempts int
	acks     []ack
}

type ack struct {
	n  int
	at time.Time
}

// NewWriter writes to http://vip:8080 through dial; each request is given
// timeout (a write to a dead appliance must not stall the count).
func NewWriter(vip string, dial func(ctx context.Context, network, addr string) (net.Conn, error), timeout time.Duration) *Writer {
	return &Writer{
		base: "http://" + net.JoinHostPort(vip, "8080"),
		http: &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}},
	}
}

// Run writes element w<N> with N = 1, 2, … every interval until ctx ends.
func (w *Writer) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for n := 1; ; n++ {
		if w.put(ctx, n) == nil {
			w.mu.Lock()
			w.acks = append(w.acks, ack{n, time.Now()})
			w.mu.Unlock()
		}
		w.mu.Lock()
		w.attempts = n
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func elementID(n int) string { return fmt.Sprintf("w%06d", n) }

func (w *Writer) put(ctx context.Context, n int) error {
	body, _ := json.Marshal(map[string]any{"floor": "demo", "x": n, "y": 0, "note": strconv.Itoa(n)})
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, w.base+"/v1/elements/"+elementID(n), bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT %s: %s", elementID(n), resp.Status)
	}
	return nil
}

// Counts returns writes attempted and acknowledged so far.
func (w *Writer) Counts() (attempts, acked int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.attempts, len(w.acks)
}

// AckedAfter reports whether some write was acknowledged after t.
func (w *Writer) AckedAfter(t time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acks) > 0 && w.acks[len(w.acks)-1].at.After(t)
}

// Outage is what the client saw around t (the moment the power was
// pulled): from the last acknowledged write before t to the first after.
func (w *Writer) Outage(t time.Time) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := sort.Search(len(w.acks), func(i int) bool { return w.acks[i].at.After(t) })
	if i == 0 || i == len(w.acks) {
		return 0, false
	}
	return w.acks[i].at.Sub(w.acks[i-1].at), true
}

// Lost reads every element back through the VIP and returns the
// acknowledged writes that are missing or carry another write's number.
func (w *Writer) Lost(ctx context.Context) ([]int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.base+"/v1/elements", nil)
	if err != nil {
		return nil, err
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading the elements back: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("reading the elements back: %s", resp.Status)
	}
	var els []struct {
		ID   string `json:"id"`
		Note string `json:"note"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&els); err != nil {
		return nil, fmt.Errorf("decoding the elements: %w", err)
	}
	have := make(map[string]string, len(els))
	for _, e := range els {
		have[e.ID] = e.Note
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var lost []int
	for _, a := range w.acks {
		if have[elementID(a.n)] != strconv.Itoa(a.n) {
			lost = append(lost, a.n)
		}
	}
	return lost, nil
}
