package board

import (
	"context"
	"fmt"
	"os"
	"time"
)

// Watchdog is a hardware watchdog timer: once opened it reboots the machine
// unless pinged in time. The init agent pings it while it is healthy, so a
// hung PID 1 ends in a reboot rather than a dead appliance.
type Watchdog interface {
	// Ping restarts the timer.
	Ping() error
	// Close disarms the timer ("magic close") and releases the device; use
	// it only for an orderly stop, never on a fatal path.
	Close() error
}

// DefaultWatchdogPath is the kernel's first watchdog device.
const DefaultWatchdogPath = "/dev/watchdog"

// Device is a Linux watchdog character device (/dev/watchdogN). Opening it
// arms the timer.
type Device struct {
	f *os.File
}

// OpenWatchdog opens (and so arms) the watchdog device at path.
func OpenWatchdog(path string) (*Device, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("opening watchdog: %w", err)
	}
	return &Device{f: f}, nil
}

// Ping writes a keep-alive byte. Any byte other than 'V' pings; 'V' would
// arm the magic close.
func (d *Device) Ping() error {
	if _, err := d.f.Write([]byte{0}); err != nil {
		return fmt.Errorf("pinging watchdog: %w", err)
	}
	return nil
}

// Close writes the magic 'V' and closes the device, which disarms drivers
// that support magic close (those built without nowayout).
func (d *Device) Close() error {
	_, werr := d.f.Write([]byte("V"))
	cerr := d.f.Close()
	if werr != nil {
		return fmt.Errorf("disarming watchdog: %w", werr)
	}
	if cerr != nil {
		return fmt.Errorf("closing watchdog: %w", cerr)
	}
	return nil
}

// Keepalive pings w every interval until ctx is done (then returns nil,
// leaving the watchdog armed for the caller to Close or let fire) or until a
// ping fails (then returns the error).
func Keepalive(ctx context.Context, w Watchdog, interval time.Duration) error {
	if err := w.Ping(); err != nil {
		return err
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if ctx.Err() != nil { // both ready: stopping wins
				return nil
			}
			if err := w.Ping(); err != nil {
				return err
			}
		}
	}
}
