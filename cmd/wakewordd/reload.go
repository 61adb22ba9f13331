package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/listener"
	"github.com/wakewordd/wakewordd/notify"
)

// reloadable are the config keys SIGHUP applies to a running daemon; every other change
// waits for a restart, and the log says which.
var reloadable = []string{"detect", "log.level"}

// watchReload re-reads the configuration (file, then the command line's flags) on every
// SIGHUP until ctx ends, and applies what can change while running: the detection rules
// (thresholds, keyword switches, smoothing, patience, refractory) and the log level. A bad
// file is logged and the running configuration kept. onRules runs after new rules are in.
// SIGHUP stays caught after ctx ends, so that one during shutdown cannot cut it short.
func watchReload(ctx context.Context, load func() (config.Config, *config.Source, error), cur config.Config,
	spec *listener.Spec, det *detect.Detector, level *slog.LevelVar, log *slog.Logger, onRules func(listener.Policy)) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			notify.Reloading()
			next, src, err := load()
			notify.Ready() // the reload has ended, applied or not
			if err != nil {
				log.Error("reload (SIGHUP): configuration rejected; the running one stays", "err", err)
				continue
			}
			p, err := listener.MergePolicy(next, src, spec.Model)
			if err == nil {
				err = det.SetRules(p.Default, p.Rules)
			}
			if err != nil {
				log.Error("reload (SIGHUP): detection rules rejected; the running ones stay", "err", err)
				continue
			}
			level.Set(logLevel(next.Log))
			onRules(p)
			log.Info("reloaded the configuration (SIGHUP)", "applied", reloadable, "keywords", det.Enabled(), "thresholds", p.Thresholds())
			for _, w := range p.Warnings {
				log.Warn("threshold above the keyword's ceiling", "warning", w)
			}
			for _, kw := range spec.Model.Keywords() {
				r, _ := det.Rule(kw)
				log.Debug("detection rule in force", "keyword", kw, "enabled", r.Enabled, "threshold", r.Threshold,
					"smoothing", r.Smoothing, "patience", r.Patience, "refractory", r.Refractory)
			}
			if keys := config.Changed(cur, next, reloadable...); len(keys) > 0 {
				log.Warn("reload (SIGHUP): these settings change only when the daemon restarts", "changed", keys)
			}
			cur = next
		}
	}()
}

// logLevel is the slog level of a validated log.level.
func logLevel(c config.Log) slog.Level {
	var l slog.Level
	l.UnmarshalText([]byte(c.Level)) // validated already
	return l
}
