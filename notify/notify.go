// Package notify speaks systemd's sd_notify protocol. Every call is a no-op when the
// process was not started by systemd with NOTIFY_SOCKET set, so callers never check.
package notify

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Ready tells systemd that start-up is complete (Type=notify units wait for it).
func Ready() error { return send(daemon.SdNotifyReady) }

// Reloading tells systemd that a configuration reload has begun; Ready ends it.
func Reloading() error {
	return send(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicUsec()))
}

// Stopping tells systemd that shutdown has begun.
func Stopping() error { return send(daemon.SdNotifyStopping) }

// Status sets the free-form line `systemctl status` shows.
func Status(line string) error { return send("STATUS=" + line) }

// Watchdog pings the watchdog. Only call it when the work it guards has made progress.
func Watchdog() error { return send(daemon.SdNotifyWatchdog) }

// WatchdogInterval is how often Watchdog must be called, or 0 when systemd does not watch
// this process. It is half of WatchdogSec, as sd_watchdog_enabled(3) recommends.
func WatchdogInterval() time.Duration {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil || d <= 0 {
		return 0
	}
	return d / 2
}

func send(state string) error {
	_, err := daemon.SdNotify(false, state)
	return err
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, which RELOADING=1 carries.
func monotonicUsec() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return ts.Nano() / 1000
}
