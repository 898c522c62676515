// Command tracker is hafw's reference service: a small element tracker
// (the seed's appliance tracks elements on floor maps) with an HTTP API on
// the VIP that stores every element through the instance API, so that the
// whole HA path — instance database, replication, failover, failback — can
// be shown and tested end to end. hmd starts it on the active node only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/hafw/hafw/hmd/instance"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "tracker: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("tracker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", ":8080", "HTTP `address` (the VIP's port on the appliance)")
	socket := fs.String("socket", "", "instance API unix `socket` (default $"+instance.SocketEnv+" or "+instance.DefaultSocket+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *socket == "" {
		*socket = os.Getenv(instance.SocketEnv)
	}
	if *socket == "" {
		*socket = instance.DefaultSocket
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: newTracker(instance.NewClient(*socket), log), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Info("tracker listening", "addr", ln.Addr(), "instance", *socket)
	// hmd reports the node active only after this: clients that come
	// with the state change find the port open.
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		log.Warn("tell the supervisor we are ready", "err", err)
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
