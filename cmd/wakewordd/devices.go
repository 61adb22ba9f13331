package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/wakewordd/wakewordd/audio"
)

func cmdDevices(_ context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("devices", "[--json]")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	devs, err := audio.Devices()
	if err != nil {
		return err
	}
	if *asJSON {
		if devs == nil {
			devs = []audio.Device{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(devs)
	}
	if len(devs) == 0 {
		_, err := fmt.Fprintln(stdout, "no audio input devices found")
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tDEFAULT\tCHANNELS\tRATE\t16kHz\tHOST API\tNAME")
	for _, d := range devs {
		def, k16 := "", "resample"
		if d.Default {
			def = "*"
		}
		if d.Supports16k {
			k16 = "native"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%.0f\t%s\t%s\t%s\n", d.Index, def, d.Channels, d.DefaultRate, k16, d.HostAPI, d.Name)
	}
	return tw.Flush()
}
