// Package agent runs Apache Flume agent configurations on the flow engine:
// it reads a Flume .properties file for one named agent, validates it with
// each component's flow.Spec, builds sources → channels → sinks and runs
// them.
package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/properties"

	// Components register themselves with the flow registry.
	_ "github.com/runnel/runnel/internal/components"
)

// ConfigError is a refused agent configuration, naming the file, line and key
// and saying how to fix it.
type ConfigError struct {
	File    string
	Line    int // 0 when no line applies (e.g. a missing key)
	Key     string
	Value   string
	Problem string
	Fix     string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		if e.Value != "" {
			fmt.Fprintf(&b, " = %q", e.Value)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	if e.Fix != "" {
		b.WriteString("; fix: " + e.Fix)
	}
	return b.String()
}

// entry is a property value with the line it came from.
type entry struct {
	value string
	line  int
}

// kindGroup marks a sink group's component (a1.sinkgroups.g1.*); it is not
// a flow.Kind any registry knows.
const kindGroup flow.Kind = 100

// kindName names a kind in messages ("source", "sink group").
func kindName(k flow.Kind) string {
	if k == kindGroup {
		return "sink group"
	}
	return k.String()
}

// component is one source, channel, sink, sink group or interceptor as
// configured.
type component struct {
	kind flow.Kind
	name string
	// path is the prefix of its keys (a1.sources.r1,
	// a1.sources.r1.interceptors.i1).
	path string
	// keys are the component's properties relative to it ("type", "port").
	keys map[string]entry
	// line is where the component is listed (a1.sources = r1).
	line int
}

// fingerprint is the component's configuration without line numbers: two
// loads of a file give the same fingerprint exactly when the component's
// keys and values are the same, so a reload keeps it running.
func (c *component) fingerprint() string {
	keys := make([]string, 0, len(c.keys))
	for k := range c.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, strings.TrimSpace(c.keys[k].value))
	}
	return b.String()
}

// parsed is an agent's section of a Flume file, before validation.
type parsed struct {
	file, agent string
	all         map[string]entry // every key of the agent, full names
	lists       map[flow.Kind][]string
	listLine    map[flow.Kind]int
	comps       map[flow.Kind]map[string]*component
}

var listKeys = map[string]flow.Kind{"sources": flow.KindSource, "channels": flow.KindChannel, "sinks": flow.KindSink, "sinkgroups": kindGroup}

func kindWord(k flow.Kind) string {
	switch k {
	case flow.KindSource:
		return "sources"
	case flow.KindChannel:
		return "channels"
	case kindGroup:
		return "sinkgroups"
	}
	return "sinks"
}

// parse reads the agent's keys from a Flume properties file.
func parse(file string, data []byte, agent string) (*parsed, []flow.Warning, error) {
	entries, err := properties.Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("reading agent config %s: %w", file, err)
	}
	p := &parsed{file: file, agent: agent, all: map[string]entry{},
		lists: map[flow.Kind][]string{}, listLine: map[flow.Kind]int{},
		comps: map[flow.Kind]map[string]*component{}}
	agents := map[string]bool{}
	prefix := agent + "."
	for _, e := range entries {
		if a, rest, ok := strings.Cut(e.Key, "."); ok {
			if _, isList := listKeys[rest]; isList {
				agents[a] = true
			}
		}
		if k, ok := strings.CutPrefix(e.Key, prefix); ok {
			p.all[k] = entry{e.Value, e.Line}
		}
	}
	if len(p.all) == 0 {
		names := make([]string, 0, len(agents))
		for a := range agents {
			names = append(names, a)
		}
		sort.Strings(names)
		return nil, nil, &ConfigError{File: file, Problem: fmt.Sprintf("no keys for agent %q (agents in this file: %s)", agent, strings.Join(names, ", ")),
			Fix: "pass the agent's name with --name, the prefix of its keys (e.g. a1 for a1.sources = r1)"}
	}
	var warnings []flow.Warning
	keys := make([]string, 0, len(p.all))
	for k := range p.all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e := p.all[k]
		if kind, ok := listKeys[k]; ok {
			p.lists[kind] = splitList(e.value)
			p.listLine[kind] = e.line
			continue
		}
		group, rest, _ := strings.Cut(k, ".")
		kind, ok := listKeys[group]
		name, sub, ok2 := strings.Cut(rest, ".")
		if !ok || !ok2 || name == "" || sub == "" {
			warnings = append(warnings, flow.Warning{Key: prefix + k, Message: fmt.Sprintf("line %d: key %s%s is not part of a Flume agent config; it is ignored", e.line, prefix, k)})
			continue
		}
		m := p.comps[kind]
		if m == nil {
			m = map[string]*component{}
			p.comps[kind] = m
		}
		c := m[name]
		if c == nil {
			c = &component{kind: kind, name: name, path: prefix + group + "." + name, keys: map[string]entry{}}
			m[name] = c
		}
		c.keys[sub] = e
	}
	if len(p.lists[flow.KindChannel]) == 0 {
		return nil, nil, p.errf(0, prefix+"channels", "", "the agent lists no channels", "list its channels, e.g. "+prefix+"channels = c1")
	}
	if len(p.lists[flow.KindSource])+len(p.lists[flow.KindSink]) == 0 {
		return nil, nil, p.errf(0, prefix+"sources", "", "the agent lists no sources and no sinks", "list them, e.g. "+prefix+"sources = r1 and "+prefix+"sinks = k1")
	}
	for kind, m := range p.comps {
		for name, c := range m {
			listed := false
			for _, n := range p.lists[kind] {
				listed = listed || n == name
			}
			if !listed {
				k, e := c.first()
				full := fmt.Sprintf("%s%s.%s.%s", prefix, kindWord(kind), name, k)
				return nil, nil, p.errf(e.line, full, e.value, fmt.Sprintf("%s %q has keys but is not listed in %s%s", kindName(kind), name, prefix, kindWord(kind)),
					fmt.Sprintf("add %s to %s%s, or remove its keys", name, prefix, kindWord(kind)))
			}
		}
	}
	for kind, names := range p.lists {
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] {
				return nil, nil, p.errf(p.listLine[kind], prefix+kindWord(kind), strings.Join(names, " "), fmt.Sprintf("%s %q is listed twice", kindName(kind), n), "list each name once")
			}
			seen[n] = true
			if p.comps[kind][n] == nil && kind == kindGroup {
				return nil, nil, p.errf(p.listLine[kind], fmt.Sprintf("%ssinkgroups.%s.sinks", prefix, n), "",
					fmt.Sprintf("sink group %q is listed but has no sinks", n), fmt.Sprintf("set %ssinkgroups.%s.sinks to two or more of: %s", prefix, n, strings.Join(p.lists[flow.KindSink], " ")))
			}
			if p.comps[kind][n] == nil {
				return nil, nil, p.errf(p.listLine[kind], fmt.Sprintf("%s%s.%s.type", prefix, kindWord(kind), n), "",
					fmt.Sprintf("%s %q is listed but has no type", kind, n), fmt.Sprintf("set %s%s.%s.type (one of: %s)", prefix, kindWord(kind), n, strings.Join(flow.Names(kind), ", ")))
			}
			p.comps[kind][n].line = p.listLine[kind]
		}
	}
	return p, warnings, nil
}

// first returns the component's alphabetically first key, for errors.
func (c *component) first() (string, entry) {
	keys := make([]string, 0, len(c.keys))
	for k := range c.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys[0], c.keys[keys[0]]
}

// full is a component key's full property name.
func (p *parsed) full(c *component, key string) string {
	return c.path + "." + key
}

func (p *parsed) errf(line int, key, value, problem, fix string) *ConfigError {
	return &ConfigError{File: p.file, Line: line, Key: key, Value: value, Problem: problem, Fix: fix}
}

// keyErr converts a spec's KeyError into a ConfigError at the key's line.
func (p *parsed) keyErr(c *component, err error) error {
	var ke *flow.KeyError
	if !errors.As(err, &ke) {
		return fmt.Errorf("%s: building %s %s: %w", p.file, c.kind, c.name, err)
	}
	line := c.line
	if e, ok := c.keys[ke.Key]; ok {
		line = e.line
	}
	return p.errf(line, p.full(c, ke.Key), ke.Value, ke.Problem, ke.Fix)
}

// build validates c's type and keys (except those in skip) and constructs
// it with counters (nil for none); it returns the component and its Config.
func (p *parsed) build(c *component, skip func(string) bool, log *slog.Logger, warn func(flow.Warning), counters *flow.Counters) (any, flow.Config, error) {
	reg, cfg, err := p.validate(c, skip, log, warn, counters)
	if err != nil {
		return nil, flow.Config{}, err
	}
	v, err := reg.Build(cfg)
	if err != nil {
		return nil, flow.Config{}, p.keyErr(c, err)
	}
	return v, cfg, nil
}

// validate checks c's type and keys (except those in skip) against its
// spec and returns the registration and Config that build would construct
// it from, without constructing it.
func (p *parsed) validate(c *component, skip func(string) bool, log *slog.Logger, warn func(flow.Warning), counters *flow.Counters) (*flow.Registration, flow.Config, error) {
	t, ok := c.keys["type"]
	if !ok {
		return nil, flow.Config{}, p.errf(c.line, p.full(c, "type"), "", fmt.Sprintf("%s %q has no type", c.kind, c.name),
			fmt.Sprintf("set %s (one of: %s)", p.full(c, "type"), strings.Join(flow.Names(c.kind), ", ")))
	}
	reg, ok := flow.Lookup(c.kind, t.value)
	if !ok {
		return nil, flow.Config{}, p.errf(t.line, p.full(c, "type"), t.value, fmt.Sprintf("unknown %s type", c.kind),
			fmt.Sprintf("use one of: %s (aliases, case-insensitive, or their Java class names)", strings.Join(flow.Names(c.kind), ", ")))
	}
	raw := map[string]string{}
	for k, e := range c.keys {
		if k != "type" && (skip == nil || !skip(k)) {
			raw[k] = e.value
		}
	}
	cfg, warnings, err := reg.Spec.Validate(c.name, raw)
	for _, w := range warnings {
		line := c.keys[w.Key].line
		warn(flow.Warning{Key: p.full(c, w.Key), Message: fmt.Sprintf("%s:%d: %s", p.file, line, w.Message)})
	}
	if err != nil {
		return nil, flow.Config{}, p.keyErr(c, err)
	}
	role := kindWord(c.kind)
	role = role[:len(role)-1]
	if c.kind == flow.KindTransform {
		role = "interceptor"
	}
	cfg.Logger = log.With(role, c.name)
	cfg.Counters = counters
	cfg.Agent = p.agent
	return reg, cfg, nil
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// readFile reads the config file, naming it in the error.
func readFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading agent config: %w", err)
	}
	return data, nil
}
