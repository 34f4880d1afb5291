package agent

import (
	"fmt"
	"sort"
	"strings"

	"github.com/runnel/runnel/internal/flow"
)

// Channel selector keys of a source (Flume's names, relative to the source).
const (
	selectorType     = "selector.type"
	selectorOptional = "selector.optional"
	selectorHeader   = "selector.header"
	selectorDefault  = "selector.default"
	selectorMapping  = "selector.mapping."
	selectorOptPre   = "selector.optional."
)

// selectorTypes maps every accepted selector.type (lower-cased) to its kind.
var selectorTypes = map[string]string{
	"replicating": "replicating",
	"org.apache.flume.channel.replicatingchannelselector": "replicating",
	"multiplexing": "multiplexing",
	"org.apache.flume.channel.multiplexingchannelselector": "multiplexing",
}

// selector builds source c's channel selector over its channels chans (in
// the order of its channels key).
func (p *parsed) selector(c *component, chans []*channelNode, warn func(flow.Warning)) (flow.Selector, error) {
	byName := map[string]*channelNode{}
	var names []string
	for _, ch := range chans {
		byName[ch.name] = ch
		names = append(names, ch.name)
	}
	// resolve turns a channel list key into channels, each of which must be
	// one of the source's.
	resolve := func(key string) ([]flow.NamedChannel, error) {
		e := c.keys[key]
		var out []flow.NamedChannel
		for _, ref := range splitList(e.value) {
			ch, ok := byName[ref]
			if !ok {
				return nil, p.errf(e.line, p.full(c, key), e.value, fmt.Sprintf("channel %q is not one of source %s's channels (%s)", ref, c.name, strings.Join(names, " ")),
					fmt.Sprintf("use one of: %s, or add %s to %s", strings.Join(names, " "), ref, p.full(c, "channels")))
			}
			out = append(out, flow.NamedChannel{Name: ref, Channel: ch.ch})
		}
		if len(out) == 0 {
			return nil, p.errf(e.line, p.full(c, key), e.value, "names no channel", fmt.Sprintf("list one or more of: %s", strings.Join(names, " ")))
		}
		return out, nil
	}

	kind := "replicating"
	if e, ok := c.keys[selectorType]; ok {
		k, known := selectorTypes[strings.ToLower(strings.TrimSpace(e.value))]
		if !known {
			return nil, p.errf(e.line, p.full(c, selectorType), e.value, "unknown channel selector type",
				"use replicating (the default) or multiplexing, or their class names org.apache.flume.channel.ReplicatingChannelSelector / MultiplexingChannelSelector")
		}
		kind = k
	}
	var selKeys []string
	for k := range c.keys {
		if k != selectorType && strings.HasPrefix(k, "selector.") {
			selKeys = append(selKeys, k)
		}
	}
	sort.Strings(selKeys)
	unknown := func(k string) {
		warn(flow.Warning{Key: p.full(c, k), Message: fmt.Sprintf("%s:%d: the %s channel selector does not use key %q; it is ignored", p.file, c.keys[k].line, kind, k)})
	}

	if kind == "replicating" {
		sel := &flow.Replicating{}
		optional := map[string]bool{}
		for _, k := range selKeys {
			if k != selectorOptional {
				unknown(k)
				continue
			}
			opt, err := resolve(k)
			if err != nil {
				return nil, err
			}
			for _, o := range opt {
				optional[o.Name] = true
			}
		}
		for _, ch := range chans {
			nc := flow.NamedChannel{Name: ch.name, Channel: ch.ch}
			if optional[ch.name] {
				sel.Optional = append(sel.Optional, nc)
			} else {
				sel.Required = append(sel.Required, nc)
			}
		}
		return sel, nil
	}

	sel := &flow.Multiplexing{Header: flow.DefaultSelectorHeader, Mapping: map[string][]flow.NamedChannel{}, Optional: map[string][]flow.NamedChannel{}}
	for _, k := range selKeys {
		var err error
		switch {
		case k == selectorHeader:
			sel.Header = strings.TrimSpace(c.keys[k].value)
		case k == selectorDefault:
			sel.Default, err = resolve(k)
		case strings.HasPrefix(k, selectorMapping):
			sel.Mapping[strings.TrimPrefix(k, selectorMapping)], err = resolve(k)
		case strings.HasPrefix(k, selectorOptPre):
			sel.Optional[strings.TrimPrefix(k, selectorOptPre)], err = resolve(k)
		default:
			unknown(k)
		}
		if err != nil {
			return nil, err
		}
	}
	if sel.Header == "" {
		e := c.keys[selectorHeader]
		return nil, p.errf(e.line, p.full(c, selectorHeader), "", "required key is empty", "name the header whose value picks the channels, or remove the key for flume.selector.header")
	}
	// As in Flume, a channel required for a value is not also optional for it.
	for v, opt := range sel.Optional {
		req := sel.Mapping[v]
		if req == nil {
			continue
		}
		kept := opt[:0:0]
		for _, o := range opt {
			dup := false
			for _, r := range req {
				dup = dup || r.Name == o.Name
			}
			if !dup {
				kept = append(kept, o)
			}
		}
		sel.Optional[v] = kept
	}
	return sel, nil
}
