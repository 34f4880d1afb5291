package agent

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
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

	log      *slog.Logger
	sources  []*sourceNode
	channels map[string]flow.Channel
	sinks    []*flow.SinkRunner
}

type sourceNode struct {
	name   string
	source flow.Source
	proc   *flow.ChannelProcessor
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

// LoadBytes is Load on data already read; file names the data in errors.
func LoadBytes(file string, data []byte, name string, log *slog.Logger) (*Agent, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p, warnings, err := parse(file, data, name)
	if err != nil {
		return nil, err
	}
	a := &Agent{Name: name, log: log, channels: map[string]flow.Channel{}}
	warn := func(w flow.Warning) { a.Warnings = append(a.Warnings, w) }
	for _, w := range warnings {
		warn(w)
	}
	ok := false
	defer func() {
		if !ok {
			a.closeAll()
		}
	}()
	used := map[string]bool{}

	for _, n := range p.lists[flow.KindChannel] {
		c := p.comps[flow.KindChannel][n]
		v, err := p.build(c, nil, log, warn)
		if err != nil {
			return nil, err
		}
		a.channels[n] = v.(flow.Channel)
	}
	channelRef := func(c *component, key string, ref string, line int) (flow.Channel, error) {
		ch, ok := a.channels[ref]
		if !ok {
			return nil, p.errf(line, p.full(c, key), c.keys[key].value, fmt.Sprintf("channel %q is not listed in %s.channels", ref, name),
				fmt.Sprintf("use one of: %s, or add %s to %s.channels", strings.Join(p.lists[flow.KindChannel], ", "), ref, name))
		}
		used[ref] = true
		return ch, nil
	}

	for _, n := range p.lists[flow.KindSource] {
		c := p.comps[flow.KindSource][n]
		chKey, ok := c.keys["channels"]
		if !ok || len(splitList(chKey.value)) == 0 {
			return nil, p.errf(c.line, p.full(c, "channels"), "", fmt.Sprintf("source %q is not bound to a channel", n),
				fmt.Sprintf("set %s to one or more of: %s", p.full(c, "channels"), strings.Join(p.lists[flow.KindChannel], " ")))
		}
		if v, ok := c.keys["interceptors"]; ok && strings.TrimSpace(v.value) != "" {
			return nil, p.errf(v.line, p.full(c, "interceptors"), v.value, "interceptors are not implemented yet",
				"remove the interceptors keys for now (events then pass unchanged)")
		}
		sel := &flow.Replicating{}
		optional := map[string]bool{}
		if v, ok := c.keys["selector.type"]; ok && !strings.EqualFold(v.value, "replicating") {
			return nil, p.errf(v.line, p.full(c, "selector.type"), v.value, "only the replicating selector is implemented so far",
				"use selector.type = replicating (the default), or remove the key")
		}
		if v, ok := c.keys["selector.optional"]; ok {
			for _, o := range splitList(v.value) {
				optional[o] = true
			}
		}
		for _, ref := range splitList(chKey.value) {
			ch, err := channelRef(c, "channels", ref, chKey.line)
			if err != nil {
				return nil, err
			}
			if optional[ref] {
				sel.Optional = append(sel.Optional, flow.NamedChannel{Name: ref, Channel: ch})
				delete(optional, ref)
			} else {
				sel.Required = append(sel.Required, flow.NamedChannel{Name: ref, Channel: ch})
			}
		}
		for o := range optional {
			v := c.keys["selector.optional"]
			return nil, p.errf(v.line, p.full(c, "selector.optional"), v.value, fmt.Sprintf("channel %q is optional but not in the source's channels", o),
				"list optional channels in "+p.full(c, "channels")+" too")
		}
		skip := func(k string) bool {
			return k == "channels" || k == "selector.type" || k == "selector.optional"
		}
		v, err := p.build(c, skip, log, warn)
		if err != nil {
			return nil, err
		}
		a.sources = append(a.sources, &sourceNode{name: n, source: v.(flow.Source),
			proc: &flow.ChannelProcessor{Selector: sel, Logger: log.With("source", n)}})
	}

	for _, n := range p.lists[flow.KindSink] {
		c := p.comps[flow.KindSink][n]
		chKey, ok := c.keys["channel"]
		if !ok {
			fix := fmt.Sprintf("set %s to one of: %s", p.full(c, "channel"), strings.Join(p.lists[flow.KindChannel], " "))
			if _, plural := c.keys["channels"]; plural {
				fix = fmt.Sprintf("a sink takes from exactly one channel: rename %s to %s (singular)", p.full(c, "channels"), p.full(c, "channel"))
			}
			return nil, p.errf(c.line, p.full(c, "channel"), "", fmt.Sprintf("sink %q is not bound to a channel", n), fix)
		}
		if refs := splitList(chKey.value); len(refs) != 1 {
			return nil, p.errf(chKey.line, p.full(c, "channel"), chKey.value, "a sink takes from exactly one channel",
				"name one channel; to feed several sinks, bind each sink to a channel")
		}
		ch, err := channelRef(c, "channel", strings.TrimSpace(chKey.value), chKey.line)
		if err != nil {
			return nil, err
		}
		v, err := p.build(c, func(k string) bool { return k == "channel" }, log, warn)
		if err != nil {
			return nil, err
		}
		sink := v.(flow.Sink)
		r := &flow.SinkRunner{Name: n, Channel: ch, Sink: sink, Logger: log.With("sink", n)}
		a.sinks = append(a.sinks, r)
		// The runner takes at most the channel's transactionCapacity per
		// transaction; a batchSize the user set above it is refused.
		if tc, ok := ch.(flow.TransactionCapacitor); ok {
			bs := 100
			if b, ok := sink.(flow.BatchSizer); ok && b.BatchSize() > 0 {
				bs = b.BatchSize()
			}
			if bs > tc.TransactionCapacity() {
				if b, has := c.keys["batchSize"]; has {
					return nil, p.errf(b.line, p.full(c, "batchSize"), b.value, fmt.Sprintf("larger than channel %s's transactionCapacity %d", chKey.value, tc.TransactionCapacity()),
						"make batchSize at most the channel's transactionCapacity, or raise transactionCapacity")
				}
				bs = tc.TransactionCapacity()
			}
			r.BatchSize = bs
		}
	}

	for _, n := range p.lists[flow.KindChannel] {
		if !used[n] {
			return nil, p.errf(p.listLine[flow.KindChannel], name+".channels", strings.Join(p.lists[flow.KindChannel], " "),
				fmt.Sprintf("channel %q is not used by any source or sink", n), fmt.Sprintf("bind it to a source (.channels) or a sink (.channel), or remove %s from %s.channels", n, name))
		}
	}
	for _, w := range a.Warnings {
		log.Warn(w.Message, "key", w.Key)
	}
	ok = true
	return a, nil
}

// Run starts every sink runner and source and runs them until ctx is done.
// A source that fails is restarted with backoff (1s doubling to 30s). On
// cancellation it stops the sources first, then the sinks, then closes
// sinks and channels; it returns when every goroutine it started has ended.
func (a *Agent) Run(ctx context.Context) error {
	a.log.Info("agent starting", "agent", a.Name, "sources", len(a.sources), "channels", len(a.channels), "sinks", len(a.sinks))
	sinkCtx, stopSinks := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSinks()
	var sinkWG, srcWG sync.WaitGroup
	for _, r := range a.sinks {
		sinkWG.Go(func() { _ = r.Run(sinkCtx) })
	}
	for _, s := range a.sources {
		srcWG.Go(func() { a.superviseSource(ctx, s) })
	}
	<-ctx.Done()
	srcWG.Wait()
	stopSinks()
	sinkWG.Wait()
	a.closeAll()
	a.log.Info("agent stopped", "agent", a.Name)
	return nil
}

// superviseSource runs s until ctx is done, restarting it after failures.
func (a *Agent) superviseSource(ctx context.Context, s *sourceNode) {
	backoff := time.Duration(0)
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

// closeAll closes sinks and channels, logging failures.
func (a *Agent) closeAll() {
	for _, r := range a.sinks {
		if err := r.Sink.Close(); err != nil {
			a.log.Warn("closing sink", "sink", r.Name, "err", err)
		}
	}
	for n, ch := range a.channels {
		if err := ch.Close(); err != nil {
			a.log.Warn("closing channel", "channel", n, "err", err)
		}
	}
}
