package agent

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// Agent is a validated, built Flume agent, ready to Run.
type Agent struct {
	// Name is the agent's name (the key prefix, e.g. a1).
	Name string
	// Warnings are keys accepted but unknown or not implemented; Load has
	// already logged them.
	Warnings []flow.Warning
	// ReloadInterval is how often Run reads the config file again to
	// reload it when it changed; 0 never (flume-ng --no-reload-conf).
	ReloadInterval time.Duration
	// MetricsAddr, when set, is where Run serves the counters over HTTP
	// (/metrics as Flume's JSON or Prometheus text, see Handler).
	MetricsAddr string

	log  *slog.Logger
	file string
	// data is the config the running graph was built from; refused is the
	// last content a reload refused (not retried until it changes).
	data, refused []byte
	mon           *monitor

	// mu guards g and metricsAddr; g is replaced only by Run's goroutine.
	mu          sync.Mutex
	g           *graph
	metricsAddr net.Addr
}

// task is a running goroutine of the agent (a source's supervisor, a sink
// runner's loop) with the means to stop it.
type task struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (t *task) running() bool { return t.done != nil }

// start runs f in a goroutine owned by t until stop.
func (t *task) start(ctx context.Context, f func(ctx context.Context)) {
	ctx, t.cancel = context.WithCancel(ctx)
	t.done = make(chan struct{})
	go func() {
		defer close(t.done)
		f(ctx)
	}()
}

// stopWarnAfter is how long stop waits before logging that a component
// does not stop.
var stopWarnAfter = 10 * time.Second

// stop cancels the goroutine and waits for it to end, logging (as what)
// when that takes longer than stopWarnAfter.
func (t *task) stop(log *slog.Logger, what string) {
	if t.done == nil {
		return
	}
	t.cancel()
	timer := time.NewTimer(stopWarnAfter)
	select {
	case <-t.done:
	case <-timer.C:
		log.Warn("still waiting for "+what+" to stop: a call into it ignores cancellation (e.g. a delivery to a target that is down)", "waited", stopWarnAfter)
		<-t.done
	}
	timer.Stop()
	t.done, t.cancel = nil, nil
}

// Load reads path and builds agent name from it. Every error is a
// *ConfigError naming the file, line and key, or an error reading the file.
// Nothing is started: sources open their sockets and files in Run.
func Load(path, name string, log *slog.Logger) (*Agent, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return LoadBytes(path, data, name, log)
}

// LoadBytes is Load on data already read; file names the data in errors and
// is the file a reload reads.
func LoadBytes(file string, data []byte, name string, log *slog.Logger) (*Agent, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Agent{Name: name, log: log, file: file, data: data, mon: newMonitor(name)}
	g, warnings, err := a.buildGraph(data, nil, nil)
	if err != nil {
		return nil, err
	}
	a.logWarnings(warnings)
	a.g, a.Warnings = g, warnings
	a.mon.set(g)
	return a, nil
}

// buildGraph parses data and builds a graph reusing prev's unchanged nodes
// (deferred: see build). The caller logs the warnings.
func (a *Agent) buildGraph(data []byte, prev *graph, deferred map[string]bool) (*graph, []flow.Warning, error) {
	p, warnings, err := parse(a.file, data, a.Name)
	if err != nil {
		return nil, nil, err
	}
	g, err := build(p, prev, deferred, a.log, func(w flow.Warning) { warnings = append(warnings, w) })
	if err != nil {
		return nil, nil, err
	}
	return g, warnings, nil
}

func (a *Agent) logWarnings(warnings []flow.Warning) {
	for _, w := range warnings {
		a.log.Warn(w.Message, "key", w.Key)
	}
}

// Run starts every sink runner and source and runs them until ctx is done,
// reloading the config file every ReloadInterval when it changed. A source
// that fails is restarted with backoff (1s doubling to 30s); a sink whose
// delivery fails is retried with backoff (100ms doubling to 5s). On
// cancellation it stops the sources first, then the sink runners (each
// delivers what is left in its channel for up to 5 s while its target takes
// it), then closes sinks and channels; it returns when every goroutine it
// started has ended.
func (a *Agent) Run(ctx context.Context) error {
	var srv *http.Server
	var srvDone chan struct{}
	if a.MetricsAddr != "" {
		ln, err := net.Listen("tcp", a.MetricsAddr)
		if err != nil {
			a.closeGraph(a.g, nil)
			return fmt.Errorf("listening for metrics on %s: %w", a.MetricsAddr, err)
		}
		a.mu.Lock()
		a.metricsAddr = ln.Addr()
		a.mu.Unlock()
		srv = &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
		srvDone = make(chan struct{})
		go func() { // owned by Run: ends when srv is closed below
			defer close(srvDone)
			_ = srv.Serve(ln)
		}()
		a.log.Info("serving agent metrics", "addr", ln.Addr().String(), "paths", "/metrics (JSON; Prometheus text on Accept), /metrics/prometheus")
	}

	a.mu.Lock()
	g := a.g
	a.mu.Unlock()
	a.log.Info("agent starting", "agent", a.Name, "sources", len(g.sources), "channels", len(g.channels), "sinks", len(g.sinks))
	base := context.WithoutCancel(ctx)
	a.startGraph(base, g)

	var tick <-chan time.Time
	if a.ReloadInterval > 0 {
		t := time.NewTicker(a.ReloadInterval)
		defer t.Stop()
		tick = t.C
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick:
			a.reload(base)
		}
	}

	a.mu.Lock()
	g = a.g
	a.mu.Unlock()
	a.stopGraph(g, nil)
	a.closeGraph(g, nil)
	if srv != nil {
		srv.Close()
		<-srvDone
	}
	a.log.Info("agent stopped", "agent", a.Name)
	return nil
}

// MetricsListenAddr is the address the metrics server listens on while Run
// runs (nil before), e.g. when MetricsAddr asked for port 0.
func (a *Agent) MetricsListenAddr() net.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.metricsAddr
}

// startGraph starts the runners and sources of g that are not running:
// sinks first, so a source's first batch has a taker.
func (a *Agent) startGraph(ctx context.Context, g *graph) {
	now := time.Now().UnixMilli()
	for _, ch := range g.channels {
		if ch.counters.Snapshot()["StartTime"] == 0 {
			ch.counters.Set("StartTime", now)
		}
	}
	for _, r := range g.runners {
		if r.running() {
			continue
		}
		for _, s := range r.sinks {
			s.counters.Set("StartTime", now)
		}
		r.start(ctx, func(ctx context.Context) { _ = r.loop.Run(ctx) })
	}
	for _, s := range g.sources {
		if !s.running() {
			s.start(ctx, func(ctx context.Context) { a.superviseSource(ctx, s) })
		}
	}
}

// stopGraph stops the sources, then the runners, of g that next does not
// share (all of them when next is nil).
func (a *Agent) stopGraph(g, next *graph) {
	keep := map[any]bool{}
	if next != nil {
		for _, s := range next.sources {
			keep[s] = true
		}
		for _, r := range next.runners {
			keep[r] = true
		}
	}
	for _, s := range g.sources {
		if !keep[s] {
			s.stop(a.log, "source "+s.name)
		}
	}
	now := time.Now().UnixMilli()
	for _, r := range g.runners {
		if !keep[r] {
			if next != nil && channelsKept(r, next) {
				r.skipDrain.Store(true)
			}
			r.stop(a.log, r.key)
			for _, s := range r.sinks {
				s.counters.Set("StopTime", now)
			}
		}
	}
}

// channelsKept reports whether every channel r's sinks take from is also
// in next (so r's replacement takes what they hold).
func channelsKept(r *runnerNode, next *graph) bool {
	for _, s := range r.sinks {
		if next.channels[s.channel.name] != s.channel {
			return false
		}
	}
	return true
}

// closeGraph closes the sinks and channels of g that next does not share
// (all of them when next is nil), logging failures.
func (a *Agent) closeGraph(g, next *graph) {
	if next == nil {
		next = &graph{}
	}
	now := time.Now().UnixMilli()
	for _, n := range g.sinkOrder {
		if s := g.sinks[n]; next.sinks[n] != s {
			if err := s.sink.Close(); err != nil {
				a.log.Warn("closing sink", "sink", n, "err", err)
			}
		}
	}
	for _, n := range g.chanOrder {
		if ch := g.channels[n]; next.channels[n] != ch {
			ch.counters.Set("StopTime", now)
			if err := ch.raw.Close(); err != nil {
				a.log.Warn("closing channel", "channel", n, "err", err)
			}
		}
	}
}

// closeAll closes every sink and channel of a graph that was never run.
func (a *Agent) closeAll() { a.closeGraph(a.g, nil) }

// superviseSource runs s until ctx is done, restarting it after failures
// with backoff; each failure is logged and counted (GenericProcessingFail).
func (a *Agent) superviseSource(ctx context.Context, s *sourceNode) {
	backoff := time.Duration(0)
	s.counters.Set("StartTime", time.Now().UnixMilli())
	defer func() { s.counters.Set("StopTime", time.Now().UnixMilli()) }()
	for ctx.Err() == nil {
		start := time.Now()
		err := s.source.Run(ctx, s.proc)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			backoff = 0
		}
		if backoff == 0 {
			backoff = time.Second
		} else {
			backoff = min(backoff*2, 30*time.Second)
		}
		s.counters.Add("GenericProcessingFail", 1)
		a.log.Error("source failed; restarting", "source", s.name, "retry_in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// reload reads the config file and, when it changed and is valid, replaces
// the running graph: components whose config or bindings changed are
// stopped and closed, new ones started, unchanged ones (and the events in
// unchanged channels) keep running. An invalid config is logged and the
// running one kept. Called only from Run's goroutine.
func (a *Agent) reload(ctx context.Context) {
	data, err := readFile(a.file)
	if err != nil {
		if !bytes.Equal(a.refused, []byte("\x00unreadable")) {
			a.log.Error("config reload: cannot read the config file; keeping the running config", "err", err)
			a.refused = []byte("\x00unreadable")
		}
		return
	}
	if bytes.Equal(a.refused, []byte("\x00unreadable")) {
		a.refused = nil
	}
	if bytes.Equal(data, a.data) || bytes.Equal(data, a.refused) {
		return
	}
	a.mu.Lock()
	old := a.g
	a.mu.Unlock()
	var changed map[string]bool
	if p, _, err := parse(a.file, data, a.Name); err == nil {
		changed = changedChannels(p, old)
	}
	if len(changed) > 0 {
		a.reloadChangedChannels(ctx, data, old, changed)
		return
	}
	g, warnings, err := a.buildGraph(data, old, nil)
	if err != nil {
		a.refused = data
		a.log.Error("config reload refused; keeping the running config", "err", err)
		return
	}
	a.logWarnings(warnings)
	a.swap(ctx, old, g, "config reloaded")
	a.data, a.refused = data, nil
}

// reloadChangedChannels reloads a config that changes running channels.
// A channel may own files (a file channel's log), so the new one is not
// constructed while the old one runs: the whole config is validated first
// with the changed channels left unbuilt, then the old channels and what is
// bound to them are stopped and closed (memory channels drained to their
// sinks), and the config is built. If that build fails, the old config is
// built again so the agent keeps running what it ran.
func (a *Agent) reloadChangedChannels(ctx context.Context, data []byte, old *graph, changed map[string]bool) {
	check, _, err := a.buildGraph(data, old, changed)
	if err != nil {
		a.refused = data
		a.log.Error("config reload refused; keeping the running config", "err", err)
		return
	}
	check.closeNew(old, a.log)
	part := old.without(changed)
	a.stopGraph(old, part)
	a.closeGraph(old, part)
	g, warnings, err := a.buildGraph(data, part, nil)
	if err == nil {
		a.logWarnings(warnings)
		a.swap(ctx, part, g, "config reloaded")
		a.data, a.refused = data, nil
		return
	}
	a.refused = data
	a.log.Error("config reload failed after the changed channels were closed; restarting them with the running config", "err", err)
	if g, _, err = a.buildGraph(a.data, part, nil); err != nil {
		a.log.Error("restarting the running config failed; the components bound to the changed channels stay stopped", "err", err)
		g = part
	}
	a.swap(ctx, part, g, "running config restarted")
}

// swap replaces the running graph old with g: what g does not share with
// old is stopped and closed, what is new in g is started; msg is logged
// with what restarted and what was kept.
func (a *Agent) swap(ctx context.Context, old, g *graph, msg string) {
	a.stopGraph(old, g)
	a.closeGraph(old, g)
	a.mu.Lock()
	a.g = g
	a.mu.Unlock()
	a.mon.set(g)
	started, kept := a.changes(old, g)
	a.startGraph(ctx, g)
	a.log.Info(msg, "file", a.file, "restarted", started, "kept", kept)
}

// changes lists the sources and sink runners of g that are new (started)
// and those shared with old (kept running), for the reload log.
func (a *Agent) changes(old, g *graph) (started, kept []string) {
	was := map[any]bool{}
	for _, s := range old.sources {
		was[s] = true
	}
	for _, r := range old.runners {
		was[r] = true
	}
	for _, s := range g.sources {
		if was[s] {
			kept = append(kept, "source "+s.name)
		} else {
			started = append(started, "source "+s.name)
		}
	}
	for _, r := range g.runners {
		if was[r] {
			kept = append(kept, r.key)
		} else {
			started = append(started, r.key)
		}
	}
	return started, kept
}
