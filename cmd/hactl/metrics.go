package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hafw/hafw/hmd/api"
)

// runMetrics prints the read-only bearer token Prometheus presents at
// /metrics (put it in the scrape job's credentials_file).
func runMetrics(ctx context.Context, c *api.Client, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "token" {
		return usageError("metrics needs an action: token")
	}
	if err := parse(flags("metrics token", stderr), args[1:]); err != nil {
		return err
	}
	t, err := c.MetricsToken(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, t)
	return nil
}
