// Command wakewordd is an always-on wake-word daemon: it listens to a microphone, computes
// MFCC frames as audio streams in, and reports what it hears.
//
// main only picks the subcommand and turns its error into one line on stderr and an exit
// status; each subcommand's flags and wiring live in its own file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// errUsage marks errors whose message was already printed with the usage text.
var errUsage = errors.New("usage")

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout io.Writer) error
}

var commands = []command{
	{"run", "capture audio and listen for wake words (the default)", cmdRun},
	{"detect", "report the wake words in audio files", cmdDetect},
	{"eval", "measure accuracy on a folder of clips, or misses and false alarms on a stream", cmdEval},
	{"devices", "list audio input devices", cmdDevices},
	{"features", "write the MFCC frames of audio files as .npy for training", cmdFeatures},
	{"bench", "measure operations and speed of the dense and delta passes", cmdBench},
	{"uninstall", "remove this site's Home Assistant entity from the MQTT broker", cmdUninstall},
	{"version", "print the version", cmdVersion},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "wakewordd: %v\n", err)
		os.Exit(1)
	}
}

func dispatch(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			usage(stdout)
			return nil
		case "-version", "--version":
			return cmdVersion(ctx, nil, stdout)
		}
	}
	name := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	if name == "help" {
		if len(args) == 0 {
			usage(stdout)
			return nil
		}
		name, args = args[0], []string{"-h"} // help COMMAND: that command's flags
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(ctx, args, stdout)
		}
	}
	fmt.Fprintf(os.Stderr, "wakewordd: unknown command %q\n", name)
	usage(os.Stderr)
	return errUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: wakewordd [command] [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nWithout a command, wakewordd runs: 'wakewordd [flags]' is 'wakewordd run [flags]'.")
	fmt.Fprintln(w, "Run 'wakewordd help COMMAND' or 'wakewordd COMMAND -h' for the flags of a command.")
}

// newFlagSet returns a flag set whose parse errors come back as errUsage after the
// message and the flag list have been printed.
func newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: wakewordd %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

func cmdVersion(_ context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("version", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, err := fmt.Fprintf(stdout, "wakewordd %s\n", version)
	return err
}
