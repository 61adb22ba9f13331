package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/wakewordd/wakewordd/publish"
)

// cmdUninstall removes what the daemon announced on the broker: the retained Home
// Assistant discovery entry (so the entity disappears) and the retained availability.
// Package removal runs it; it needs only the config's site and mqtt sections.
func cmdUninstall(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("uninstall", "[flags]")
	cf := addConfigFlags(fs, "site_id", "mqtt.broker", "mqtt.username", "mqtt.password_file", "log.level", "log.format")
	timeout := fs.Duration("timeout", 10*time.Second, "give up when the broker cannot be reached within this time")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("uninstall: unexpected argument %q", fs.Arg(0))
	}
	c, _, err := cf.load(fs)
	if err != nil {
		return err
	}
	if !c.MQTT.Enabled() {
		return errors.New("uninstall: no broker configured (mqtt.broker or --mqtt-broker): nothing to remove")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	mc := mqttConfig(c, "", nil, newLogger(c.Log, io.Discard, nil))
	if err := publish.RemoveDiscovery(ctx, mc); err != nil {
		return fmt.Errorf("uninstall: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "removed the Home Assistant entity and availability of site %q from %s\n", c.SiteID, c.MQTT.Broker)
	return err
}
