package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/listener"
	"github.com/wakewordd/wakewordd/publish"
)

// outputs are where detections go besides the log: an MQTT broker and JSON lines on
// stdout, as configured. It also owns the run-time keyword toggles that arrive over MQTT.
type outputs struct {
	sinks publish.Multi
	mqtt  *publish.MQTT // nil without a broker
	json  bool          // JSON lines on stdout
	det   *detect.Detector
	site  string
	model string
	muted atomic.Bool // Hermes toggleOff for this site
	// thresholds describes each keyword's threshold and its origin, for STATUS (a reload
	// replaces it).
	thresholds atomic.Pointer[string]
}

// modelName is how events name the model: its file name without the extension.
func modelName(m *infer.Model) string {
	return strings.TrimSuffix(filepath.Base(m.Path), filepath.Ext(m.Path))
}

// mqttConfig translates the config's mqtt section.
func mqttConfig(c config.Config, model string, keywords []string, log *slog.Logger) publish.MQTTConfig {
	q := c.MQTT
	return publish.MQTTConfig{
		Broker: q.Broker, ClientID: q.ClientID, Username: q.Username, PasswordFile: q.PasswordFile,
		CAFile: q.TLS.CAFile, CertFile: q.TLS.CertFile, KeyFile: q.TLS.KeyFile,
		TopicPrefix: q.TopicPrefix, Discovery: q.Discovery, DiscoveryPrefix: q.DiscoveryPrefix, Hermes: q.Hermes,
		SiteID: c.SiteID, Keywords: keywords, Model: model, Version: version,
		QueueSize: q.Queue, KeepAlive: q.KeepAlive, Logger: log.With("component", "mqtt"),
	}
}

func newOutputs(c config.Config, m *infer.Model, det *detect.Detector, log *slog.Logger, stdout io.Writer) (*outputs, error) {
	o := &outputs{det: det, site: c.SiteID, model: modelName(m)}
	if c.Output.JSON {
		j := publish.NewJSONLines(stdout)
		j.OnError = func(err error) {
			log.Warn("stdout cannot be written any more; no more JSON lines (detection and MQTT go on)", "err", err)
		}
		o.sinks, o.json = append(o.sinks, j), true
	}
	if c.MQTT.Enabled() {
		mc := mqttConfig(c, o.model, det.Enabled(), log)
		mc.OnToggle = func(kw string, on bool) { o.toggle(kw, on, log) }
		mq, err := publish.NewMQTT(mc)
		if err != nil {
			return nil, err
		}
		o.mqtt = mq
		o.sinks = append(o.sinks, mq)
	}
	return o, nil
}

// toggle handles a keyword switch (kw) or Hermes' toggleOff/toggleOn for the site (kw "").
// Hermes mutes the site without touching the keywords' own switches, so that toggleOn
// restores exactly what was on before.
func (o *outputs) toggle(kw string, on bool, log *slog.Logger) {
	if kw == "" {
		o.muted.Store(!on)
		log.Info("hotword detection switched by Hermes", "on", on)
		return
	}
	if err := o.det.SetEnabled(kw, on); err != nil {
		log.Warn("ignoring a switch for an unknown keyword", "keyword", kw, "err", err)
		return
	}
	log.Info("keyword switched", "keyword", kw, "on", on)
	o.keywordsChanged()
}

// setPolicy takes the detection policy in force, whose thresholds STATUS shows.
func (o *outputs) setPolicy(p listener.Policy) {
	th := p.Thresholds()
	o.thresholds.Store(&th)
}

// reloaded takes the policy of a reloaded configuration: STATUS shows it, and the broker
// learns which keywords are on now.
func (o *outputs) reloaded(p listener.Policy) {
	o.setPolicy(p)
	o.keywordsChanged()
}

// keywordsChanged tells the broker which keywords are on now.
func (o *outputs) keywordsChanged() {
	if o.mqtt != nil {
		o.mqtt.SetKeywords(o.det.Enabled())
	}
}

func (o *outputs) publish(d detect.Detection) {
	if len(o.sinks) == 0 {
		return
	}
	r, _ := o.det.Rule(d.Keyword)
	o.sinks.Publish(publish.Event{
		ID: publish.NewID(), Keyword: d.Keyword, Score: d.Score, SiteID: o.site, Time: time.Now(),
		StreamS: d.At.Seconds(), Model: o.model, Threshold: r.Threshold,
	})
}

// flush waits until every detection so far is delivered, saying why it waits.
func (o *outputs) flush(ctx context.Context, log *slog.Logger) error {
	if len(o.sinks) == 0 {
		return nil
	}
	if o.mqtt != nil {
		if st := o.mqtt.Stats(); st.Queued > 0 {
			log.Info("input ended; waiting for the broker to take the queued detections", "queued", st.Queued, "connected", st.Connected)
		}
	}
	return o.sinks.Flush(ctx)
}

// close shuts the sinks down, waiting at most wait for deliveries still in flight.
func (o *outputs) close(wait time.Duration, log *slog.Logger) {
	if len(o.sinks) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := o.sinks.Close(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Warn("closing the outputs", "err", err)
	}
	if o.mqtt != nil {
		if st := o.mqtt.Stats(); st.Queued > 0 || st.Dropped > 0 {
			log.Warn("detections not delivered to the broker", "queued", st.Queued, "dropped", st.Dropped)
		}
	}
}

func (o *outputs) describe() string {
	var d []string
	if o.mqtt != nil {
		d = append(d, "mqtt")
	}
	if o.json {
		d = append(d, "json-stdout")
	}
	if len(d) == 0 {
		return "log only"
	}
	return strings.Join(d, ",")
}

// stats is a short summary for logs.
func (o *outputs) stats() string {
	if o.mqtt == nil {
		return "-"
	}
	st := o.mqtt.Stats()
	return fmt.Sprintf("%d delivered, %d queued, %d dropped, %d reconnects", st.Published, st.Queued, st.Dropped, st.Reconnects)
}

// status is the thresholds' and MQTT's part of systemd's STATUS line.
func (o *outputs) status() string {
	th := ""
	if p := o.thresholds.Load(); p != nil {
		th = "; thresholds " + *p
	}
	if o.mqtt == nil {
		return th
	}
	st := o.mqtt.Stats()
	state := "connected"
	if !st.Connected {
		state = "broker unreachable"
	}
	s := fmt.Sprintf("; MQTT %s", state)
	if st.Queued > 0 {
		s += fmt.Sprintf(", %d queued", st.Queued)
	}
	return s + th
}
