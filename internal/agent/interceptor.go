package agent

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/runnel/runnel/internal/flow"
)

// interceptors builds source c's interceptor chain (a1.sources.r1.interceptors
// = i1 i2, keys under a1.sources.r1.interceptors.i1.*) in the listed order;
// each is a flow.KindTransform type. The interceptors add their counters
// (e.g. TransformFailedCount) to the source's.
func (p *parsed) interceptors(c *component, log *slog.Logger, warn func(flow.Warning), counters *flow.Counters) ([]flow.Transform, error) {
	list, hasList := c.keys["interceptors"]
	names := splitList(list.value)
	subs := map[string]*component{}
	listed := map[string]bool{}
	for _, n := range names {
		if listed[n] {
			return nil, p.errf(list.line, p.full(c, "interceptors"), list.value, fmt.Sprintf("interceptor %q is listed twice", n), "list each interceptor once")
		}
		listed[n] = true
	}
	keys := make([]string, 0, len(c.keys))
	for k := range c.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, "interceptors.")
		if !ok {
			continue
		}
		e := c.keys[k]
		name, sub, ok := strings.Cut(rest, ".")
		if !ok || name == "" || sub == "" {
			return nil, p.errf(e.line, p.full(c, k), e.value, "not an interceptor key",
				fmt.Sprintf("interceptor keys look like %s.interceptors.i1.type", c.path))
		}
		if !listed[name] {
			fix := fmt.Sprintf("add %s to %s, or remove its keys", name, p.full(c, "interceptors"))
			if !hasList {
				fix = fmt.Sprintf("set %s = %s", p.full(c, "interceptors"), name)
			}
			return nil, p.errf(e.line, p.full(c, k), e.value, fmt.Sprintf("interceptor %q has keys but is not listed in %s", name, p.full(c, "interceptors")), fix)
		}
		ic := subs[name]
		if ic == nil {
			ic = &component{kind: flow.KindTransform, name: name, path: c.path + ".interceptors." + name, keys: map[string]entry{}, line: list.line}
			subs[name] = ic
		}
		ic.keys[sub] = e
	}
	var chain []flow.Transform
	for _, n := range names {
		ic := subs[n]
		if ic == nil {
			ic = &component{kind: flow.KindTransform, name: n, path: c.path + ".interceptors." + n, keys: map[string]entry{}, line: list.line}
		}
		v, _, err := p.build(ic, nil, log.With("source", c.name), warn, counters)
		if err != nil {
			return nil, err
		}
		chain = append(chain, v.(flow.Transform))
	}
	return chain, nil
}
