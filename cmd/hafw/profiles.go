package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/hafw/hafw/hwprofiles"
)

func runProfiles(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("profiles", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return usageError("%v", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tPRODUCT ID\tCLASS\tVCPU\tMEMORY MB\tDISK GB\tIMAGE\tCAS\tWIPS\tMSAP")
	for _, p := range hwprofiles.All() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%d\t%d\t%d\n", p.Model, p.ProductID, p.Class,
			p.VCPU, p.MemoryMB, p.DiskGB, p.ImageFormat,
			p.Limits[hwprofiles.CAS], p.Limits[hwprofiles.WIPS], p.Limits[hwprofiles.MSAP])
	}
	return tw.Flush()
}
