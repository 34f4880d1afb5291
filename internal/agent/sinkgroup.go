package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// Sink group keys (Flume's names, relative to a1.sinkgroups.g1).
const (
	groupSinks         = "sinks"
	groupProcType      = "processor.type"
	groupPriority      = "processor.priority."
	groupMaxPenalty    = "processor.maxpenalty"
	groupBackoff       = "processor.backoff"
	groupSelector      = "processor.selector"
	groupSelectorMaxTO = "processor.selector.maxTimeOut"
)

// processorTypes maps every accepted processor.type (lower-cased) to its kind.
var processorTypes = map[string]string{
	"default": "default",
	"org.apache.flume.sink.defaultsinkprocessor": "default",
	"failover": "failover",
	"org.apache.flume.sink.failoversinkprocessor": "failover",
	"load_balance": "load_balance",
	"org.apache.flume.sink.loadbalancingsinkprocessor": "load_balance",
}

// lbSelectors maps every accepted processor.selector (lower-cased) to
// whether it is random.
var lbSelectors = map[string]bool{
	"round_robin": false,
	"org.apache.flume.sink.loadbalancingsinkprocessor$roundrobinsinkselector": false,
	"random": true,
	"org.apache.flume.sink.loadbalancingsinkprocessor$randomordersinkselector": true,
}

// failurePenalty is the first penalty unit of failover and load_balance
// backoff (Flume's 1 s, doubled per consecutive failure).
var failurePenalty = time.Second

// groupSinks resolves group c's sinks key; grouped records sink → group and
// refuses a sink in two groups.
func (p *parsed) groupSinks(c *component, sinks map[string]*sinkNode, grouped map[string]string) ([]*sinkNode, error) {
	e, ok := c.keys[groupSinks]
	if !ok || len(splitList(e.value)) == 0 {
		return nil, p.errf(c.line, p.full(c, groupSinks), e.value, fmt.Sprintf("sink group %q names no sinks", c.name),
			fmt.Sprintf("set %s to the sinks it drives, e.g. %s", p.full(c, groupSinks), strings.Join(p.lists[flow.KindSink], " ")))
	}
	var out []*sinkNode
	for _, n := range splitList(e.value) {
		s, ok := sinks[n]
		if !ok {
			return nil, p.errf(e.line, p.full(c, groupSinks), e.value, fmt.Sprintf("sink %q is not listed in %s.sinks", n, p.agent),
				fmt.Sprintf("use sinks of %s.sinks (%s)", p.agent, strings.Join(p.lists[flow.KindSink], " ")))
		}
		if g := grouped[n]; g != "" {
			return nil, p.errf(e.line, p.full(c, groupSinks), e.value, fmt.Sprintf("sink %q is already in sink group %s", n, g),
				"put each sink in one group at most")
		}
		grouped[n] = c.name
		out = append(out, s)
	}
	return out, nil
}

// sinkGroup validates group c's processor keys and returns the loop that
// drives its members.
func (p *parsed) sinkGroup(c *component, members []*sinkNode, log *slog.Logger, warn func(flow.Warning)) (*flow.Loop, error) {
	kind := "default"
	if e, ok := c.keys[groupProcType]; ok {
		k, known := processorTypes[strings.ToLower(strings.TrimSpace(e.value))]
		if !known {
			return nil, p.errf(e.line, p.full(c, groupProcType), e.value, "unknown sink processor type",
				"use default, failover or load_balance (or Flume's class names DefaultSinkProcessor, FailoverSinkProcessor, LoadBalancingSinkProcessor)")
		}
		kind = k
	}
	intKey := func(key string, def int64) (int64, error) {
		e, ok := c.keys[key]
		if !ok {
			return def, nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(e.value), 10, 64)
		if err != nil || n < 0 {
			return 0, p.errf(e.line, p.full(c, key), e.value, "not a whole number of milliseconds", fmt.Sprintf("set it to a number such as %d", def))
		}
		return n, nil
	}
	known := map[string]bool{groupSinks: true, groupProcType: true}
	var l flow.Loop
	l.Logger = log
	l.Drain = shutdownDrain
	l.Ready = sharedReady(members)
	switch kind {
	case "default":
		if len(members) != 1 {
			e := c.keys[groupSinks]
			return nil, p.errf(e.line, p.full(c, groupSinks), e.value, "the default sink processor drives exactly one sink",
				fmt.Sprintf("set %s = failover or load_balance to drive several sinks", p.full(c, groupProcType)))
		}
		l.Step = members[0].runner.Process
	case "failover":
		maxPenalty, err := intKey(groupMaxPenalty, 30000)
		if err != nil {
			return nil, err
		}
		known[groupMaxPenalty] = true
		f := &failover{group: c.name, log: log, maxPenalty: time.Duration(maxPenalty) * time.Millisecond}
		byPrio := map[int64]string{}
		next := int64(0)
		for _, s := range members {
			key := groupPriority + s.name
			known[key] = true
			prio := next - 1
			if e, ok := c.keys[key]; ok {
				n, err := strconv.ParseInt(strings.TrimSpace(e.value), 10, 32)
				if err != nil {
					return nil, p.errf(e.line, p.full(c, key), e.value, "not a whole number", "set it to an integer; the live sink with the highest priority takes the batches")
				}
				if other, dup := byPrio[n]; dup {
					return nil, p.errf(e.line, p.full(c, key), e.value, fmt.Sprintf("sink %s has the same priority", other),
						"give every sink of a failover group its own priority (Flume would silently drop one of them)")
				}
				prio = n
			} else {
				next--
			}
			byPrio[prio] = s.name
			f.members = append(f.members, &member{s: s, prio: prio})
		}
		sort.SliceStable(f.members, func(i, j int) bool { return f.members[i].prio > f.members[j].prio })
		l.Step = f.step
	case "load_balance":
		lb := &loadBalance{group: c.name, log: log, maxTimeout: 30 * time.Second}
		known[groupBackoff], known[groupSelector], known[groupSelectorMaxTO] = true, true, true
		if e, ok := c.keys[groupBackoff]; ok {
			b, err := strconv.ParseBool(strings.TrimSpace(e.value))
			if err != nil {
				return nil, p.errf(e.line, p.full(c, groupBackoff), e.value, "not a boolean", "set it to true or false")
			}
			lb.backoff = b
		}
		if e, ok := c.keys[groupSelector]; ok {
			random, ok := lbSelectors[strings.ToLower(strings.TrimSpace(e.value))]
			if !ok {
				return nil, p.errf(e.line, p.full(c, groupSelector), e.value, "unknown sink selector (custom selector classes cannot run here)", "use round_robin (the default) or random")
			}
			lb.random = random
		}
		ms, err := intKey(groupSelectorMaxTO, 30000)
		if err != nil {
			return nil, err
		}
		lb.maxTimeout = time.Duration(ms) * time.Millisecond
		for _, s := range members {
			lb.members = append(lb.members, &member{s: s})
		}
		l.Step = lb.step
	}
	var keys []string
	for k := range c.keys {
		if !known[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		msg := fmt.Sprintf("%s:%d: the %s sink processor does not use key %q; it is ignored", p.file, c.keys[k].line, kind, k)
		if s, ok := strings.CutPrefix(k, groupPriority); ok && kind == "failover" {
			msg = fmt.Sprintf("%s:%d: sink %q is not in sink group %s; its priority is ignored", p.file, c.keys[k].line, s, c.name)
		}
		warn(flow.Warning{Key: p.full(c, k), Message: msg})
	}
	return &l, nil
}

// sharedReady returns the wake-up of the one channel every member takes
// from, or nil (poll) when they take from different channels.
func sharedReady(members []*sinkNode) func() <-chan struct{} {
	ch := members[0].channel
	for _, m := range members[1:] {
		if m.channel != ch {
			return nil
		}
	}
	if n, ok := ch.ch.(flow.Notifier); ok {
		return n.Ready
	}
	return nil
}

// member is one sink of a failover or load_balance group; its fields are
// used only by the group's loop goroutine.
type member struct {
	s    *sinkNode
	prio int64
	// failed: penalised (failover) or backed off (load_balance) until
	// until; fails counts consecutive failures.
	failed bool
	fails  int
	until  time.Time
}

// penalise marks m failed for failurePenalty doubled per consecutive
// failure (the first failure counts as two, as in Flume), at most limit.
func (m *member) penalise(now time.Time, limit time.Duration) time.Duration {
	m.failed = true
	m.fails++
	d := limit
	if m.fails < 30 {
		d = min(limit, failurePenalty<<m.fails)
	}
	m.until = now.Add(d)
	return d
}

// failover is Flume's failover sink processor: the live sink with the
// highest priority takes every batch; a sink whose delivery fails is
// penalised (2 s, doubling, at most maxpenalty) and the next one takes the
// batch; a penalised sink is tried again when its penalty is over, and
// takes over again once it delivers.
type failover struct {
	group      string
	log        *slog.Logger
	maxPenalty time.Duration
	members    []*member // by priority, highest first
}

func (f *failover) step(ctx context.Context) (int, error) {
	now := time.Now()
	// Penalised sinks whose penalty is over are tried first, highest
	// priority first; one that delivers is live again.
	for _, m := range f.members {
		if !m.failed || m.until.After(now) {
			continue
		}
		n, err := m.s.runner.Process(ctx)
		if err != nil {
			f.log.Warn("sink is still failing; penalised again", "sink", m.s.name, "retry_in", m.penalise(now, f.maxPenalty), "err", err)
			continue
		}
		if n > 0 {
			m.failed, m.fails = false, 0
			f.log.Info("sink delivers again; back in the failover group", "sink", m.s.name, "priority", m.prio)
			return n, nil
		}
		// Nothing to deliver: it stays penalised until it proves itself.
	}
	var errs []error
	for _, m := range f.members {
		if m.failed {
			continue
		}
		n, err := m.s.runner.Process(ctx)
		if err == nil {
			return n, nil
		}
		if ctx.Err() != nil {
			return 0, err
		}
		errs = append(errs, fmt.Errorf("sink %s: %w", m.s.name, err))
		f.log.Warn("sink failed; failing over to the next sink", "sink", m.s.name, "retry_in", m.penalise(now, f.maxPenalty), "err", err)
	}
	return 0, fmt.Errorf("sink group %s (failover): %w", f.group, errors.Join(append([]error{errNoSinks}, errs...)...))
}

// loadBalance is Flume's load_balancing sink processor: each batch goes to
// the next sink in round-robin (or random) order; a sink that fails passes
// the batch on to the next, and with backoff it is left out for 2 s,
// doubling, at most maxTimeOut.
type loadBalance struct {
	group      string
	log        *slog.Logger
	random     bool
	backoff    bool
	maxTimeout time.Duration
	members    []*member
	next       int
}

func (lb *loadBalance) step(ctx context.Context) (int, error) {
	now := time.Now()
	order := make([]*member, 0, len(lb.members))
	for _, m := range lb.members {
		if !m.failed || !m.until.After(now) {
			order = append(order, m)
		}
	}
	if lb.random {
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	} else if len(order) > 0 {
		start := lb.next % len(order)
		lb.next++
		order = append(order[start:], order[:start]...)
	}
	var errs []error
	for _, m := range order {
		n, err := m.s.runner.Process(ctx)
		if err == nil {
			m.failed, m.fails = false, 0
			return n, nil
		}
		if ctx.Err() != nil {
			return 0, err
		}
		errs = append(errs, fmt.Errorf("sink %s: %w", m.s.name, err))
		if lb.backoff {
			lb.log.Warn("sink failed; backed off, passing the batch to the next sink", "sink", m.s.name, "retry_in", m.penalise(now, lb.maxTimeout), "err", err)
		} else {
			lb.log.Warn("sink failed; passing the batch to the next sink", "sink", m.s.name, "err", err)
		}
	}
	return 0, fmt.Errorf("sink group %s (load_balance): %w", lb.group, errors.Join(append([]error{errNoSinks}, errs...)...))
}
