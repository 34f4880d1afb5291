package flow

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Kind is the role of a component.
type Kind int

const (
	KindSource Kind = iota + 1
	KindChannel
	KindSink
	KindTransform
)

func (k Kind) String() string {
	switch k {
	case KindSource:
		return "source"
	case KindChannel:
		return "channel"
	case KindSink:
		return "sink"
	case KindTransform:
		return "interceptor"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Registration is a registered component: its spec and constructor.
type Registration struct {
	Spec  Spec
	build func(Config) (any, error)
}

// Build constructs the component from a Config made by Spec.Validate. The
// result is a Source, Channel, Sink or Transform according to Spec.Kind.
func (r *Registration) Build(cfg Config) (any, error) { return r.build(cfg) }

var (
	regMu sync.RWMutex
	// registry maps kind → lower-cased name → registration; guarded by regMu.
	registry = map[Kind]map[string]*Registration{}
)

func register(spec Spec, build func(Config) (any, error)) {
	regMu.Lock()
	defer regMu.Unlock()
	if len(spec.Names) == 0 {
		panic("flow: registering a component without names")
	}
	m := registry[spec.Kind]
	if m == nil {
		m = map[string]*Registration{}
		registry[spec.Kind] = m
	}
	r := &Registration{Spec: spec, build: build}
	for _, n := range spec.Names {
		key := strings.ToLower(n)
		if _, dup := m[key]; dup {
			panic(fmt.Sprintf("flow: %s %q registered twice", spec.Kind, n))
		}
		m[key] = r
	}
}

// RegisterSource registers a source constructor; call it from init.
func RegisterSource(spec Spec, f func(Config) (Source, error)) {
	spec.Kind = KindSource
	register(spec, func(c Config) (any, error) { return f(c) })
}

// RegisterChannel registers a channel constructor; call it from init.
func RegisterChannel(spec Spec, f func(Config) (Channel, error)) {
	spec.Kind = KindChannel
	register(spec, func(c Config) (any, error) { return f(c) })
}

// RegisterSink registers a sink constructor; call it from init.
func RegisterSink(spec Spec, f func(Config) (Sink, error)) {
	spec.Kind = KindSink
	register(spec, func(c Config) (any, error) { return f(c) })
}

// RegisterTransform registers a transform (interceptor / SMT) constructor;
// call it from init.
func RegisterTransform(spec Spec, f func(Config) (Transform, error)) {
	spec.Kind = KindTransform
	register(spec, func(c Config) (any, error) { return f(c) })
}

// Lookup finds the component of kind registered under typeName
// (case-insensitive).
func Lookup(kind Kind, typeName string) (*Registration, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	r, ok := registry[kind][strings.ToLower(strings.TrimSpace(typeName))]
	return r, ok
}

// Names lists the first (alias) name of every component of kind, sorted.
func Names(kind Kind) []string {
	regMu.RLock()
	defer regMu.RUnlock()
	seen := map[*Registration]bool{}
	var names []string
	for _, r := range registry[kind] {
		if !seen[r] {
			seen[r] = true
			names = append(names, r.Spec.Names[0])
		}
	}
	sort.Strings(names)
	return names
}
