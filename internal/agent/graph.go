package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// graph is one built configuration: the components and the runners that
// drive the sinks. A reload builds a new graph that shares every node whose
// configuration (and bindings) did not change with the running one.
type graph struct {
	sources  []*sourceNode
	channels map[string]*channelNode
	// chanOrder is the channels in their listed order.
	chanOrder []string
	sinks     map[string]*sinkNode
	sinkOrder []string
	// runners drive the sinks: one per sink outside a group, one per group.
	runners []*runnerNode
}

type channelNode struct {
	name, fp string
	// raw is the channel as built; ch wraps it with the counters.
	raw      flow.Channel
	ch       flow.Channel
	counters *flow.Counters
	// capacity is the configured capacity key (0 when the type has none),
	// for ChannelCapacity when the channel does not implement flow.Sizer.
	capacity int64
}

type sourceNode struct {
	name, fp string
	source   flow.Source
	proc     *flow.ChannelProcessor
	counters *flow.Counters
	chans    []*channelNode
	task
}

type sinkNode struct {
	name, fp string
	sink     flow.Sink
	runner   *flow.SinkRunner
	channel  *channelNode
	counters *flow.Counters
}

// runnerNode drives one sink, or the sinks of one group, with a flow.Loop.
type runnerNode struct {
	// key is "sink k1" or "group g1".
	key   string
	fp    string
	sinks []*sinkNode
	loop  *flow.Loop
	// skipDrain is set before a reload stops a runner whose channels stay:
	// the new runner takes what they hold, so the old one does not drain.
	skipDrain atomic.Bool
	task
}

// newRunner makes the runner node for loop; its steps stop (report an
// empty channel) once skipDrain is set, which ends the loop's drain.
func newRunner(key, fp string, sinks []*sinkNode, loop *flow.Loop) *runnerNode {
	r := &runnerNode{key: key, fp: fp, sinks: sinks, loop: loop}
	step := loop.Step
	loop.Step = func(ctx context.Context) (int, error) {
		if r.skipDrain.Load() {
			return 0, nil
		}
		return step(ctx)
	}
	return r
}

// build validates p and constructs the graph, reusing from prev (nil on the
// first load) every channel, source, sink and runner whose configuration and
// bindings are unchanged. On error everything it constructed is closed and
// prev is untouched.
//
// Channels named in deferred are validated but not constructed: they get a
// placeholder (a reload checks a config that changes a channel before it
// closes the running one, which may hold the same files).
func build(p *parsed, prev *graph, deferred map[string]bool, log *slog.Logger, warn func(flow.Warning)) (_ *graph, err error) {
	g := &graph{channels: map[string]*channelNode{}, sinks: map[string]*sinkNode{}}
	if prev == nil {
		prev = &graph{channels: map[string]*channelNode{}, sinks: map[string]*sinkNode{}}
	}
	defer func() {
		if err != nil {
			g.closeNew(prev, log)
		}
	}()
	name := p.agent
	used := map[string]bool{}

	for _, n := range p.lists[flow.KindChannel] {
		c := p.comps[flow.KindChannel][n]
		fp := c.fingerprint()
		if old := prev.channels[n]; old != nil && old.fp == fp {
			g.channels[n] = old
			g.chanOrder = append(g.chanOrder, n)
			continue
		}
		counters := flow.NewCounters()
		if deferred[n] {
			_, cfg, err := p.validate(c, nil, log, warn, counters)
			if err != nil {
				return nil, err
			}
			g.channels[n] = &channelNode{name: n, fp: fp, raw: unbuilt{}, ch: unbuilt{}, counters: counters, capacity: cfg.Int("capacity")}
			g.chanOrder = append(g.chanOrder, n)
			continue
		}
		v, cfg, err := p.build(c, nil, log, warn, counters)
		if err != nil {
			return nil, err
		}
		ch := v.(flow.Channel)
		g.channels[n] = &channelNode{name: n, fp: fp, raw: ch, ch: flow.CountChannel(ch, counters), counters: counters, capacity: cfg.Int("capacity")}
		g.chanOrder = append(g.chanOrder, n)
	}
	channelRef := func(c *component, key string, ref string, line int) (*channelNode, error) {
		ch, ok := g.channels[ref]
		if !ok {
			return nil, p.errf(line, p.full(c, key), c.keys[key].value, fmt.Sprintf("channel %q is not listed in %s.channels", ref, name),
				fmt.Sprintf("use one of: %s, or add %s to %s.channels", strings.Join(p.lists[flow.KindChannel], ", "), ref, name))
		}
		used[ref] = true
		return ch, nil
	}

	prevSources := map[string]*sourceNode{}
	for _, s := range prev.sources {
		prevSources[s.name] = s
	}
	for _, n := range p.lists[flow.KindSource] {
		c := p.comps[flow.KindSource][n]
		chKey, ok := c.keys["channels"]
		if !ok || len(splitList(chKey.value)) == 0 {
			return nil, p.errf(c.line, p.full(c, "channels"), "", fmt.Sprintf("source %q is not bound to a channel", n),
				fmt.Sprintf("set %s to one or more of: %s", p.full(c, "channels"), strings.Join(p.lists[flow.KindChannel], " ")))
		}
		var chans []*channelNode
		for _, ref := range splitList(chKey.value) {
			ch, err := channelRef(c, "channels", ref, chKey.line)
			if err != nil {
				return nil, err
			}
			chans = append(chans, ch)
		}
		fp := c.fingerprint()
		if old := prevSources[n]; old != nil && old.fp == fp && same(old.chans, chans) {
			g.sources = append(g.sources, old)
			continue
		}
		sel, err := p.selector(c, chans, warn)
		if err != nil {
			return nil, err
		}
		counters := flow.NewCounters()
		transforms, err := p.interceptors(c, log, warn, counters)
		if err != nil {
			return nil, err
		}
		v, cfg, err := p.build(c, sourceOwnKey, log, warn, counters)
		if err != nil {
			return nil, err
		}
		if err := p.checkSourceBatch(c, v, cfg, chans); err != nil {
			return nil, err
		}
		g.sources = append(g.sources, &sourceNode{name: n, fp: fp, source: v.(flow.Source), counters: counters, chans: chans,
			proc: &flow.ChannelProcessor{Transforms: transforms, Selector: sel, Logger: log.With("source", n), Counters: counters}})
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
		g.sinkOrder = append(g.sinkOrder, n)
		fp := c.fingerprint()
		if old := prev.sinks[n]; old != nil && old.fp == fp && old.channel == ch {
			g.sinks[n] = old
			continue
		}
		counters := flow.NewCounters()
		v, _, err := p.build(c, func(k string) bool { return k == "channel" }, log, warn, counters)
		if err != nil {
			return nil, err
		}
		sink := v.(flow.Sink)
		r := &flow.SinkRunner{Name: n, Channel: ch.ch, Sink: sink, Logger: log.With("sink", n), Counters: counters}
		g.sinks[n] = &sinkNode{name: n, fp: fp, sink: sink, runner: r, channel: ch, counters: counters}
		// The runner takes at most the channel's transactionCapacity per
		// transaction; a batchSize the user set above it is refused.
		if tc, ok := ch.raw.(flow.TransactionCapacitor); ok {
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

	if err := g.buildRunners(p, prev, log, warn); err != nil {
		return nil, err
	}

	for _, n := range p.lists[flow.KindChannel] {
		if !used[n] {
			return nil, p.errf(p.listLine[flow.KindChannel], name+".channels", strings.Join(p.lists[flow.KindChannel], " "),
				fmt.Sprintf("channel %q is not used by any source or sink", n), fmt.Sprintf("bind it to a source (.channels) or a sink (.channel), or remove %s from %s.channels", n, name))
		}
	}
	return g, nil
}

// checkSourceBatch refuses a source whose batch (flow.BatchSizer, else its
// batchSize key or its default) exceeds the transactionCapacity of one of
// its channels: every put transaction would fail.
func (p *parsed) checkSourceBatch(c *component, src any, cfg flow.Config, chans []*channelNode) error {
	bs := int64(0)
	if b, ok := src.(flow.BatchSizer); ok {
		bs = int64(b.BatchSize())
	} else if v, ok := cfg.Raw("batchSize"); ok {
		bs, _ = strconv.ParseInt(v, 10, 64)
	}
	for _, ch := range chans {
		tc, ok := flow.Unwrap(ch.raw).(flow.TransactionCapacitor)
		if !ok || bs <= int64(tc.TransactionCapacity()) {
			continue
		}
		problem := fmt.Sprintf("larger than channel %s's transactionCapacity %d", ch.name, tc.TransactionCapacity())
		fix := "make batchSize at most the channel's transactionCapacity, or raise transactionCapacity"
		if b, has := c.keys["batchSize"]; has {
			return p.errf(b.line, p.full(c, "batchSize"), b.value, problem, fix)
		}
		e := c.keys["channels"]
		return p.errf(e.line, p.full(c, "batchSize"), strconv.FormatInt(bs, 10), "the default "+problem, "set "+p.full(c, "batchSize")+" at most the channel's transactionCapacity, or raise transactionCapacity")
	}
	return nil
}

// sourceOwnKey reports the source keys the agent reads itself, which the
// source's spec does not see.
func sourceOwnKey(k string) bool {
	return k == "channels" || k == "interceptors" || strings.HasPrefix(k, "interceptors.") ||
		k == "selector" || strings.HasPrefix(k, "selector.")
}

// same reports whether a and b hold the same nodes in the same order.
func same[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// buildRunners makes one runner per sink group and one per sink outside a
// group, reusing prev's runner when its sinks and config are the same.
func (g *graph) buildRunners(p *parsed, prev *graph, log *slog.Logger, warn func(flow.Warning)) error {
	prevRunners := map[string]*runnerNode{}
	for _, r := range prev.runners {
		prevRunners[r.key] = r
	}
	grouped := map[string]string{} // sink → group
	for _, gn := range p.lists[kindGroup] {
		c := p.comps[kindGroup][gn]
		members, err := p.groupSinks(c, g.sinks, grouped)
		if err != nil {
			return err
		}
		key := "group " + gn
		fp := c.fingerprint()
		if old := prevRunners[key]; old != nil && old.fp == fp && same(old.sinks, members) {
			g.runners = append(g.runners, old)
			continue
		}
		loop, err := p.sinkGroup(c, members, log.With("sinkgroup", gn), warn)
		if err != nil {
			return err
		}
		g.runners = append(g.runners, newRunner(key, fp, members, loop))
	}
	for _, n := range g.sinkOrder {
		if grouped[n] != "" {
			continue
		}
		s := g.sinks[n]
		key := "sink " + n
		if old := prevRunners[key]; old != nil && same(old.sinks, []*sinkNode{s}) {
			g.runners = append(g.runners, old)
			continue
		}
		g.runners = append(g.runners, newRunner(key, "", []*sinkNode{s}, sinkLoop(s)))
	}
	return nil
}

// shutdownDrain is how long a stopping sink runner goes on delivering what
// is left in its channel (see flow.Loop.Drain): a graceful stop (SIGTERM,
// a reload that replaces the sink) loses nothing a memory channel holds
// while the target takes it.
var shutdownDrain = 5 * time.Second

// sinkLoop is the loop of a sink that runs on its own.
func sinkLoop(s *sinkNode) *flow.Loop {
	l := &flow.Loop{Step: s.runner.Process, Logger: s.runner.Logger, Drain: shutdownDrain}
	if n, ok := s.runner.Channel.(flow.Notifier); ok {
		l.Ready = n.Ready
	}
	return l
}

// closeNew closes the sinks and channels of g that prev does not share
// (those this build constructed), logging failures.
func (g *graph) closeNew(prev *graph, log *slog.Logger) {
	for n, s := range g.sinks {
		if prev.sinks[n] != s {
			if err := s.sink.Close(); err != nil {
				log.Warn("closing sink", "sink", n, "err", err)
			}
		}
	}
	for n, ch := range g.channels {
		if prev.channels[n] != ch {
			if err := ch.raw.Close(); err != nil {
				log.Warn("closing channel", "channel", n, "err", err)
			}
		}
	}
}

// unbuilt stands for a channel that was validated but not constructed; a
// graph holding one is never run.
type unbuilt struct{}

func (unbuilt) Begin() flow.Transaction { panic("agent: a channel validated for a reload was used") }
func (unbuilt) Close() error            { return nil }

// changedChannels returns the channels of p that g runs under the same
// name with another configuration.
func changedChannels(p *parsed, g *graph) map[string]bool {
	out := map[string]bool{}
	for _, n := range p.lists[flow.KindChannel] {
		if old := g.channels[n]; old != nil && old.fp != p.comps[flow.KindChannel][n].fingerprint() {
			out[n] = true
		}
	}
	return out
}

// without returns g minus the channels in chans and every source, sink and
// runner bound to them.
func (g *graph) without(chans map[string]bool) *graph {
	out := &graph{channels: map[string]*channelNode{}, sinks: map[string]*sinkNode{}}
	for _, n := range g.chanOrder {
		if !chans[n] {
			out.channels[n] = g.channels[n]
			out.chanOrder = append(out.chanOrder, n)
		}
	}
	for _, s := range g.sources {
		bound := false
		for _, ch := range s.chans {
			bound = bound || chans[ch.name]
		}
		if !bound {
			out.sources = append(out.sources, s)
		}
	}
	for _, n := range g.sinkOrder {
		if s := g.sinks[n]; !chans[s.channel.name] {
			out.sinks[n] = s
			out.sinkOrder = append(out.sinkOrder, n)
		}
	}
	for _, r := range g.runners {
		kept := true
		for _, s := range r.sinks {
			kept = kept && out.sinks[s.name] == s
		}
		if kept {
			out.runners = append(out.runners, r)
		}
	}
	return out
}

// errNoSinks is returned by a group step when no sink could take a batch.
var errNoSinks = errors.New("no sink of the group is available")
