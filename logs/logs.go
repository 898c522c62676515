// Package logs keeps hmd's and the init agent's logs on the data partition
// — rotated by size with a bounded total (lumberjack), one directory for
// the HA logs as the seed keeps them — and forwards each line to the
// remote syslog collector (RFC 5424) when one is configured.
//
// Logging never blocks or slows its caller (hmd's HA loop logs every state
// change): Write copies the line into two bounded queues, one for the disk
// and one for syslog, each drained by its own goroutine; a full queue drops
// the line and counts it. A disk that refuses a write (a full data
// partition) stops disk logging — the appliance keeps serving and Status
// says why — and it is tried again after a pause.
package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/hafw/hafw/notify"
)

// Defaults bound each program's logs to MaxSizeMB × (MaxBackups+1).
const (
	DefaultMaxSizeMB  = 4
	DefaultMaxBackups = 4
	queueLen          = 2048
	// retryAfter is how long disk logging pauses after a refused write.
	retryAfter = 30 * time.Second
)

// Options configure a Writer.
type Options struct {
	// App names the program: the file is App.log, the syslog APP-NAME.
	App  string
	Host string
	// MaxSizeMB and MaxBackups bound the files (defaults above).
	MaxSizeMB, MaxBackups int
	// Syslog returns the collector to forward to, nil for none; it is
	// asked for every line, so a configuration change takes effect at once.
	Syslog func() *notify.Syslog
	// Fallback gets the Writer's own complaints (the console; stderr).
	Fallback io.Writer
}

// Status is what the appliance says about its logs.
type Status struct {
	File string `json:"file,omitempty"`
	// DiskError is set while disk logging is stopped (e.g. the data
	// partition is full).
	DiskError string `json:"disk_error,omitempty"`
	// Dropped counts lines lost to full queues or a refusing disk.
	Dropped uint64 `json:"dropped"`
	// SyslogError is why the last line did not reach the collector; empty
	// once one does.
	SyslogError string `json:"syslog_error,omitempty"`
}

// Writer is the io.Writer a slog handler writes to.
type Writer struct {
	opt        Options
	disk, sysq chan []byte
	dropped    atomic.Uint64
	stop       chan struct{}
	wg         sync.WaitGroup

	mu        sync.Mutex
	lj        *lumberjack.Logger
	diskErr   string
	pausedTil time.Time
	sysErr    string
}

// New starts the Writer's goroutines; disk logging starts with Start.
func New(opt Options) *Writer {
	if opt.MaxSizeMB == 0 {
		opt.MaxSizeMB = DefaultMaxSizeMB
	}
	if opt.MaxBackups == 0 {
		opt.MaxBackups = DefaultMaxBackups
	}
	if opt.Fallback == nil {
		opt.Fallback = io.Discard
	}
	if opt.Host == "" {
		opt.Host, _ = os.Hostname()
	}
	w := &Writer{opt: opt, disk: make(chan []byte, queueLen), sysq: make(chan []byte, queueLen), stop: make(chan struct{})}
	w.wg.Add(2)
	go w.diskLoop()
	go w.syslogLoop()
	return w
}

// File is where App's log is kept in dir.
func File(dir, app string) string { return filepath.Join(dir, app+".log") }

// Start logs to dir (created 0700) from now on; call it once the data
// partition is mounted.
func (w *Writer) Start(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("log directory: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lj = &lumberjack.Logger{Filename: File(dir, w.opt.App), MaxSize: w.opt.MaxSizeMB, MaxBackups: w.opt.MaxBackups}
	return nil
}

// Stop ends logging to disk and closes the file, so that the partition
// holding it can be unmounted; lines written after it reach syslog (and
// the fallback's notices) only. Start may be called again.
func (w *Writer) Stop() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lj == nil {
		return nil
	}
	err := w.lj.Close()
	w.lj = nil
	if err != nil {
		return fmt.Errorf("close log: %w", err)
	}
	return nil
}

// Write queues one log line; it never blocks and never fails.
func (w *Writer) Write(p []byte) (int, error) {
	line := bytes.Clone(p)
	for _, q := range []chan []byte{w.disk, w.sysq} {
		select {
		case q <- line:
		default:
			w.dropped.Add(1)
		}
	}
	return len(p), nil
}

func (w *Writer) diskLoop() {
	defer w.wg.Done()
	for {
		select {
		case <-w.stop:
			return
		case line := <-w.disk:
			w.writeDisk(line)
		}
	}
}

func (w *Writer) writeDisk(line []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lj == nil {
		return // not started: the data partition is not there yet
	}
	now := time.Now()
	if now.Before(w.pausedTil) {
		w.dropped.Add(1)
		return
	}
	if _, err := w.lj.Write(line); err != nil {
		w.dropped.Add(1)
		if w.diskErr == "" {
			fmt.Fprintf(w.opt.Fallback, "%s: logging to %s stopped, the appliance keeps serving: %v\n", w.opt.App, w.lj.Filename, err)
		}
		w.diskErr = err.Error()
		w.pausedTil = now.Add(retryAfter)
		return
	}
	if w.diskErr != "" {
		fmt.Fprintf(w.opt.Fallback, "%s: logging to %s resumed\n", w.opt.App, w.lj.Filename)
		w.diskErr = ""
	}
}

func (w *Writer) syslogLoop() {
	defer w.wg.Done()
	var (
		client *notify.SyslogClient
		cur    notify.Syslog
	)
	defer func() {
		if client != nil {
			client.Close()
		}
	}()
	for {
		var line []byte
		select {
		case <-w.stop:
			return
		case line = <-w.sysq:
		}
		if w.opt.Syslog == nil {
			continue
		}
		cfg := w.opt.Syslog()
		if cfg == nil {
			continue
		}
		if client == nil || *cfg != cur {
			if client != nil {
				client.Close()
			}
			client, cur = notify.NewSyslogClient(*cfg, 5*time.Second), *cfg
		}
		err := client.Send(context.Background(), LineMessage(line, w.opt.App, w.opt.Host))
		w.mu.Lock()
		if err != nil {
			w.sysErr = err.Error()
			w.dropped.Add(1)
		} else {
			w.sysErr = ""
		}
		w.mu.Unlock()
	}
}

// LineMessage is one slog text line as an RFC 5424 message, its severity
// from the line's level.
func LineMessage(line []byte, app, host string) notify.Message {
	text := string(bytes.TrimRight(line, "\n"))
	sev := 6
	switch {
	case bytes.Contains(line, []byte("level=ERROR")):
		sev = 3
	case bytes.Contains(line, []byte("level=WARN")):
		sev = 4
	case bytes.Contains(line, []byte("level=DEBUG")):
		sev = 7
	}
	return notify.Message{Time: time.Now(), Severity: sev, Host: host, App: app, Text: text}
}

// Status reports the logs' state.
func (w *Writer) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := Status{DiskError: w.diskErr, Dropped: w.dropped.Load(), SyslogError: w.sysErr}
	if w.lj != nil {
		st.File = w.lj.Filename
	}
	return st
}

// Close stops the goroutines (lines still queued are lost) and closes the
// file.
func (w *Writer) Close() error {
	close(w.stop)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lj != nil {
		return w.lj.Close()
	}
	return nil
}

// Tail returns the last n lines of app's log in dir (rotated files are not
// read: the current file holds the recent past).
func Tail(dir, app string, n int) ([]string, error) {
	f, err := os.Open(File(dir, app))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	// Read at most the last 1 MiB: a line is short, n is small.
	if fi, err := f.Stat(); err == nil && fi.Size() > 1<<20 {
		if _, err := f.Seek(-(1 << 20), io.SeekEnd); err != nil {
			return nil, fmt.Errorf("seek log: %w", err)
		}
	}
	var ring []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		ring = append(ring, sc.Text())
		if len(ring) > n {
			ring = ring[1:]
		}
	}
	return ring, sc.Err()
}
